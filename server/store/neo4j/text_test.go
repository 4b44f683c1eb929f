package neo4j

import "testing"

func TestLuceneQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   \t\n", ""},
		{"tea", `"tea"`},
		{"green  tea", `"green" "tea"`},
		{"AND OR NOT", `"AND" "OR" "NOT"`},
		{`a"b`, `"a\"b"`},
		{`back\slash`, `"back\\slash"`},
		{"+x -y *z? ~w: (v) [u] {t} ^s /r &&q ||p !o", `"+x" "-y" "*z?" "~w:" "(v)" "[u]" "{t}" "^s" "/r" "&&q" "||p" "!o"`},
		{"ünïcode", `"ünïcode"`},
	}
	for _, tt := range tests {
		if got := luceneQuery(tt.in); got != tt.want {
			t.Errorf("luceneQuery(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSearchText(t *testing.T) {
	tests := []struct {
		name, typ string
		obs       []string
		want      string
	}{
		{"Alice", "Person", []string{"Likes TEA"}, "alice\x1fperson\x1flikes tea"},
		{"ΣΊΣΥΦΟΣ", "", nil, "σίσυφοσ\x1f"},
		{"K", "\u212a", []string{"a", "B"}, "k\x1fk\x1fa\x1fb"},
	}
	for _, tt := range tests {
		if got := searchText(tt.name, tt.typ, tt.obs); got != tt.want {
			t.Errorf("searchText(%q, %q, %q) = %q, want %q", tt.name, tt.typ, tt.obs, got, tt.want)
		}
	}
	if got := observationText([]string{"one", "two"}); got != "one\ntwo" {
		t.Errorf("observationText = %q", got)
	}
}

func TestNameKey(t *testing.T) {
	// sha256("Alice"), hex.
	if got := nameKey("Alice"); got != "3bc51062973c458d5a6f2d8d64a023246354ad7e064b1e4e009ec8a0699a3043" {
		t.Errorf("nameKey(Alice) = %s", got)
	}
	if nameKey("a") == nameKey("A") {
		t.Error("keys must be case-sensitive, as names are")
	}
}

func TestRedactURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bolt://db:7687", "bolt://db:7687"},
		{"neo4j://user:s3cret@db:7687", "neo4j://user:xxxxx@db:7687"},
		{"bolt://%zz", "(unparsable URI)"},
	}
	for _, tt := range tests {
		if got := redactURI(tt.in); got != tt.want {
			t.Errorf("redactURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
