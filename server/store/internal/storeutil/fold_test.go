package storeutil

import (
	"strings"
	"testing"
)

func TestMatcher(t *testing.T) {
	tests := []struct {
		query, text string
		want        bool
	}{
		{"", "anything", true},
		{"abc", "xxABCxx", true},
		{"ABC", "xxabcxx", true},
		{"ünï", "HELLO ÜNÏCODE", true},
		{"straße", "STRASSE", false}, // simple folding only, as strings.EqualFold
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true},
		{"σίσυφος", "ΣΊΣΥΦΟΣ", true},
		{"k", "\u212a", true}, // Kelvin sign folds to k
		{"%", "100% sure", true},
		{"%", "100 percent", false},
		{"_", "a_b", true},
		{"_", "ab", false},
		{"'", `it's`, true},
		{`"`, `say "hi"`, true},
		{"a%b", "axb", false},
		{"Ǆ", "ǆ", true},
		{"ǅ", "Ǆ", true},
		{"abcd", "abc", false},
	}
	for _, tt := range tests {
		m := NewMatcher(tt.query)
		if got := m.Match(tt.text); got != tt.want {
			t.Errorf("NewMatcher(%q).Match(%q) = %v, want %v", tt.query, tt.text, got, tt.want)
		}
		// The folded forms must agree with strings.EqualFold on equal-length cases.
		if len(tt.query) > 0 && strings.EqualFold(tt.query, tt.text) != (Fold(tt.query) == Fold(tt.text)) {
			t.Errorf("Fold disagrees with strings.EqualFold on %q vs %q", tt.query, tt.text)
		}
	}
}

func TestMatchEntity(t *testing.T) {
	m := NewMatcher("needle")
	if !m.MatchEntity("x", "y", []string{"a", "hay NEEDLE stack"}) {
		t.Error("observation match missed")
	}
	if !m.MatchEntity("x", "NeedleType", nil) {
		t.Error("type match missed")
	}
	if m.MatchEntity("x", "y", []string{"need le"}) {
		t.Error("false match")
	}
}

func FuzzFoldAgreesWithEqualFold(f *testing.F) {
	f.Add("Hello", "hELLO")
	f.Add("ΣΊΣ", "σίς")
	f.Add("\u212a", "k")
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.EqualFold(a, b) != (Fold(a) == Fold(b)) {
			t.Fatalf("EqualFold(%q, %q) = %v but Fold gives %q and %q", a, b, strings.EqualFold(a, b), Fold(a), Fold(b))
		}
	})
}
