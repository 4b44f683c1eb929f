package jsonl_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/memory-operator/memory-operator/server/jsonl"
	"github.com/memory-operator/memory-operator/server/memory"
)

// A file as the reference server writes it: no trailing newline.
const reference = `{"type":"entity","name":"John_Smith","entityType":"person","observations":["Speaks fluent Spanish","Likes \"quotes\" & <tags>"]}
{"type":"entity","name":"Anthropic","entityType":"organization","observations":[]}

{"type":"relation","from":"John_Smith","to":"Anthropic","relationType":"works_at"}`

func TestReadReference(t *testing.T) {
	g, err := jsonl.Read(strings.NewReader(reference))
	if err != nil {
		t.Fatal(err)
	}
	want := memory.Graph{
		Entities: []memory.Entity{
			{Name: "John_Smith", EntityType: "person", Observations: []string{"Speaks fluent Spanish", `Likes "quotes" & <tags>`}},
			{Name: "Anthropic", EntityType: "organization", Observations: []string{}},
		},
		Relations: []memory.Relation{{From: "John_Smith", To: "Anthropic", RelationType: "works_at"}},
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got %#v", g)
	}
	var out bytes.Buffer
	if err := jsonl.Write(&out, g); err != nil {
		t.Fatal(err)
	}
	// Byte for byte what the reference writes (JSON.stringify), blank line aside, plus a final newline.
	wantText := strings.Replace(reference, "\n\n", "\n", 1) + "\n"
	if out.String() != wantText {
		t.Errorf("write:\n%s\nwant:\n%s", out.String(), wantText)
	}
}

func TestReadEmpty(t *testing.T) {
	g, err := jsonl.Read(strings.NewReader("\n  \n"))
	if err != nil || g.Entities == nil || g.Relations == nil || len(g.Entities)+len(g.Relations) != 0 {
		t.Errorf("%#v %v", g, err)
	}
}

func TestReadRefusesMalformed(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"not json", `{"type":"entity","name":"a","entityType":"t","observations":[]}` + "\n{oops", 2, "not a JSON object"},
		{"array line", `[1,2]`, 1, "not a JSON object"},
		{"unknown type", `{"type":"node","name":"a"}`, 1, `"node"`},
		{"missing type", `{"name":"a","entityType":"t"}`, 1, `missing field "type"`},
		{"missing name", "\n\n" + `{"type":"entity","entityType":"t","observations":[]}`, 3, `"name"`},
		{"null type", `{"type":"entity","name":"a","entityType":null,"observations":[]}`, 1, `"entityType"`},
		{"number name", `{"type":"entity","name":5,"entityType":"t","observations":[]}`, 1, `"name" must be a string`},
		{"bad observation", `{"type":"entity","name":"a","entityType":"t","observations":[1]}`, 1, "observations"},
		{"null observation", `{"type":"entity","name":"a","entityType":"t","observations":[null]}`, 1, "observations[0]"},
		{"empty name", `{"type":"entity","name":"","entityType":"t","observations":[]}`, 1, "empty"},
		{"relation missing to", `{"type":"relation","from":"a","relationType":"r"}`, 1, `"to"`},
		{"two values", `{"type":"relation","from":"a","to":"b","relationType":"r"} {}`, 1, "more than one"},
		{"bad utf8", "{\"type\":\"entity\",\"name\":\"\xff\",\"entityType\":\"t\"}", 1, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := jsonl.Read(strings.NewReader(tt.in))
			var le *jsonl.LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a LineError", err)
			}
			if le.Line != tt.line || !strings.Contains(le.Msg, tt.msg) {
				t.Errorf("got %v, want line %d with %q", le, tt.line, tt.msg)
			}
			if g.Entities != nil || g.Relations != nil {
				t.Errorf("a graph came back with the error: %#v", g)
			}
		})
	}
	_, err := jsonl.Read(strings.NewReader("x\n{}\n" + `{"type":"entity","name":"ok","entityType":"t"}` + "\n[]"))
	if err == nil || !strings.Contains(err.Error(), "line 1:") || !strings.Contains(err.Error(), "line 2:") || !strings.Contains(err.Error(), "line 4:") || strings.Contains(err.Error(), "line 3:") {
		t.Errorf("every bad line should be listed: %v", err)
	}
}

func TestLongLine(t *testing.T) {
	big := strings.Repeat("é", 40<<10) // 80 KiB observation
	in := `{"type":"entity","name":"big","entityType":"t","observations":["` + big + `"]}`
	g, err := jsonl.Read(strings.NewReader(in))
	if err != nil || len(g.Entities) != 1 || g.Entities[0].Observations[0] != big {
		t.Fatalf("long line: %v", err)
	}
}

// FuzzRead: Read never panics; whatever it accepts survives Write then Read
// unchanged.
func FuzzRead(f *testing.F) {
	f.Add([]byte(reference))
	f.Add([]byte(`{"type":"entity","name":"a","entityType":"t"}`))
	f.Add([]byte("{\"type\":\"relation\",\"from\":\"\",\"to\":\"\\u0000\",\"relationType\":\"r\"}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := jsonl.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := jsonl.Write(&out, g); err != nil {
			t.Fatal(err)
		}
		g2, err := jsonl.Read(&out)
		if err != nil {
			t.Fatalf("re-reading our own output: %v\n%s", err, out.String())
		}
		if !reflect.DeepEqual(g, g2) {
			t.Fatalf("round trip changed the graph: %#v vs %#v", g, g2)
		}
	})
}
