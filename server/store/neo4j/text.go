package neo4j

import (
	"strings"

	"github.com/memory-operator/memory-operator/server/store/internal/storeutil"
)

// searchSeparator joins the folded fields of the search property. A query
// spanning two fields can match the joined text; SearchNodes re-checks every
// candidate field by field, so such a false candidate is dropped.
const searchSeparator = "\x1f"

// searchText is the value of an entity's search property: the folded
// (storeutil.Fold) name, type and observations. The TEXT index serves
// CONTAINS on it and SearchNodes folds the query the same way, so Neo4j's own
// toLower (Java's, locale and context dependent) never decides a match.
func searchText(name, entityType string, observations []string) string {
	parts := make([]string, 0, 2+len(observations))
	parts = append(parts, storeutil.Fold(name), storeutil.Fold(entityType))
	for _, o := range observations {
		parts = append(parts, storeutil.Fold(o))
	}
	return strings.Join(parts, searchSeparator)
}

// observationText is the value of the property the full-text index covers
// for observations.
func observationText(observations []string) string {
	return strings.Join(observations, "\n")
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
