package mcp

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
)

// reference renders v as jsonResult did before render.go: encoding/json
// without HTML escaping, then json.Indent.
func reference(t *testing.T, v any) (compact, text string) {
	t.Helper()
	body, err := encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(body), indented(body)
}

// nasty are strings that exercise every escaping rule.
var nasty = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<html> & 'single'", "é ü 漢字 😀", "\u2028 line sep \u2029 para sep", "bad utf8 \xff\xfe end",
	"\xc3", "half \xe2\x80 rune", `{"json":"inside"}`, strings.Repeat("x", 70000),
}

func TestRenderMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	word := func() string {
		if r.IntN(3) == 0 {
			return nasty[r.IntN(len(nasty))]
		}
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	words := func(n int) []string {
		if n < 0 {
			return nil
		}
		out := []string{}
		for range n {
			out = append(out, word())
		}
		return out
	}
	entities := func() []memory.Entity {
		var out []memory.Entity
		for range r.IntN(4) {
			out = append(out, memory.Entity{Name: word(), EntityType: word(), Observations: words(r.IntN(4) - 1)})
		}
		return out
	}
	relations := func() []memory.Relation {
		var out []memory.Relation
		for range r.IntN(4) {
			out = append(out, memory.Relation{From: word(), To: word(), RelationType: word()})
		}
		return out
	}
	values := []any{
		memory.Graph{}, memory.Graph{Entities: []memory.Entity{}, Relations: []memory.Relation{}},
		[]memory.Entity(nil), []memory.Entity{}, []memory.Relation{}, []memory.ObservationResult{},
		[]memory.ObservationResult{{EntityName: "a"}, {EntityName: "b", AddedObservations: []string{}}},
	}
	for _, s := range nasty {
		values = append(values, []memory.Entity{{Name: s, EntityType: s, Observations: []string{s, s}}})
	}
	for range 500 {
		values = append(values,
			memory.Graph{Entities: entities(), Relations: relations()},
			entities(), relations(),
			[]memory.ObservationResult{{EntityName: word(), AddedObservations: words(r.IntN(3) - 1)}})
	}
	for i, v := range values {
		gotCompact, gotText, ok := renderValue(v)
		if !ok {
			t.Fatalf("value %d (%T) not rendered", i, v)
		}
		compact, text := reference(t, v)
		if string(gotCompact) != compact {
			t.Fatalf("value %d (%T): compact\n%q\nencoding/json\n%q", i, v, gotCompact, compact)
		}
		if gotText != text {
			t.Fatalf("value %d (%T): text\n%q\njson.Indent\n%q", i, v, gotText, text)
		}
		if !json.Valid(gotCompact) {
			t.Fatalf("value %d: invalid JSON %q", i, gotCompact)
		}
	}
	if _, _, ok := renderValue([]memory.ScoredEntity{}); ok {
		t.Error("ScoredEntity rendered by render.go, which does not write numbers")
	}
}

func BenchmarkRenderVsEncodingJSON(b *testing.B) {
	g := memory.Graph{Relations: []memory.Relation{}}
	for i := range 3 {
		g.Entities = append(g.Entities, memory.Entity{Name: "Bakemi-Tosu-123" + string(rune('0'+i)), EntityType: "person",
			Observations: []string{"works on project 42", "lives in city 7"}})
		g.Relations = append(g.Relations, memory.Relation{From: g.Entities[i].Name, To: "Other", RelationType: "knows"})
	}
	b.Run("render", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = renderValue(g)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			body, _ := encode(g)
			_ = indented(body)
		}
	})
}
