// Package storeutil holds the logic every memory.Store backend shares: the
// Unicode case folding behind search_nodes, input validation and the
// deduplication rules of the reference memory server.
package storeutil

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FoldRune maps r to a canonical member of its Unicode simple case-folding
// orbit, so that two runes are equal under simple folding (the rule of
// strings.EqualFold) exactly when their FoldRune results are equal.
func FoldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	lowest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < lowest {
			lowest = f
		}
	}
	return unicode.ToLower(lowest)
}

// Fold returns s with every rune replaced by FoldRune. Fold(a) == Fold(b)
// exactly when strings.EqualFold(a, b), and Fold(needle) is a substring of
// Fold(haystack) exactly when haystack has a substring EqualFold to needle.
// Backends index folded text and fold the query, so the index and the exact
// re-check agree.
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(FoldRune(r))
	}
	return b.String()
}

// Matcher is a case-insensitive (Unicode simple folding) substring test for
// one query, where every character, %, _ and quotes included, is literal.
type Matcher struct {
	folded string
}

// NewMatcher returns a Matcher for query.
func NewMatcher(query string) Matcher { return Matcher{folded: Fold(query)} }

// Folded returns the folded query, the text to look up in a folded index.
func (m Matcher) Folded() string { return m.folded }

// Runes returns the number of runes of the folded query.
func (m Matcher) Runes() int { return utf8.RuneCountInString(m.folded) }

// Match reports whether s contains the query, ignoring case.
func (m Matcher) Match(s string) bool {
	if m.folded == "" {
		return true
	}
	return strings.Contains(Fold(s), m.folded)
}

// MatchEntity reports whether the query occurs in the name, the type or any
// observation.
func (m Matcher) MatchEntity(name, entityType string, observations []string) bool {
	if m.Match(name) || m.Match(entityType) {
		return true
	}
	for _, o := range observations {
		if m.Match(o) {
			return true
		}
	}
	return false
}
