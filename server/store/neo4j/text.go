package neo4j

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold maps s to a canonical case: every rune becomes the smallest rune of
// its Unicode simple case-folding orbit (K, k and the Kelvin sign K all
// become K; σ, ς and Σ become Σ). Two strings are equal ignoring case exactly
// when their folds are equal, and a case-insensitive substring test is a
// plain substring test on folds. The store computes folds in Go, on write
// (the search property) and on the query, so Neo4j's own toLower (Java's,
// locale and context dependent) never decides a match.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < least {
			least = f
		}
	}
	return least
}

// searchSeparator joins the folded fields of the search property. A query
// spanning two fields can match the joined text; SearchNodes re-checks every
// candidate field by field, so such a false candidate is dropped.
const searchSeparator = "\x1f"

// searchText is the value of an entity's search property.
func searchText(name, entityType string, observations []string) string {
	parts := make([]string, 0, 2+len(observations))
	parts = append(parts, fold(name), fold(entityType))
	for _, o := range observations {
		parts = append(parts, fold(o))
	}
	return strings.Join(parts, searchSeparator)
}

// observationText is the value of the property the full-text index covers
// for observations.
func observationText(observations []string) string {
	return strings.Join(observations, "\n")
}

// matches is the exact SearchNodes predicate: folded query is a substring of
// the folded name, type or one of the observations.
func matches(foldedQuery, name, entityType string, observations []string) bool {
	if strings.Contains(fold(name), foldedQuery) || strings.Contains(fold(entityType), foldedQuery) {
		return true
	}
	for _, o := range observations {
		if strings.Contains(fold(o), foldedQuery) {
			return true
		}
	}
	return false
}

// luceneQuery turns free text into a Lucene query for the full-text index:
// each whitespace-separated word becomes a quoted, escaped term, and terms
// are ORed (Lucene's default), so the operators and syntax of Lucene
// (AND, OR, NOT, +, -, *, ?, ~, :, quotes, brackets...) in the text are plain
// characters. It returns "" when text holds no word.
func luceneQuery(text string) string {
	words := strings.Fields(text)
	quoted := make([]string, 0, len(words))
	for _, w := range words {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range w {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
		quoted = append(quoted, b.String())
	}
	return strings.Join(quoted, " ")
}
