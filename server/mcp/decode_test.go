package mcp_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/memory-operator/memory-operator/server/mcp"
	"github.com/memory-operator/memory-operator/server/memory"
)

func TestDecodeCreateEntities(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []memory.Entity
		wantErr string
	}{
		{name: "ok", in: `{"entities":[{"name":"a","entityType":"t","observations":["x","y"]}]}`,
			want: []memory.Entity{{Name: "a", EntityType: "t", Observations: []string{"x", "y"}}}},
		{name: "empty list", in: `{"entities":[]}`, want: []memory.Entity{}},
		{name: "unknown properties ignored as the schema allows", in: `{"x":{"deep":[1,2,{"a":null}]},"entities":[{"name":"a","entityType":"t","observations":[],"extra":true}]}`,
			want: []memory.Entity{{Name: "a", EntityType: "t", Observations: []string{}}}},
		{name: "escapes and unicode", in: `{"entities":[{"name":"\u00e9\"\\\/\n\ud83d\ude00 é","entityType":"' OR 1=1; --","observations":["%_"]}]}`,
			want: []memory.Entity{{Name: "é\"\\/\n😀 é", EntityType: "' OR 1=1; --", Observations: []string{"%_"}}}},
		{name: "last repeated property wins", in: `{"entities":[{"name":"a","entityType":"t","observations":[]}],"entities":[]}`, want: []memory.Entity{}},
		{name: "missing top", in: `{}`, wantErr: `missing required property "entities"`},
		{name: "null args", in: `null`, wantErr: `missing required property "entities"`},
		{name: "missing field", in: `{"entities":[{"name":"a","observations":[]}]}`, wantErr: `entities[0]: missing required property "entityType"`},
		{name: "null is not a string", in: `{"entities":[{"name":null,"entityType":"t","observations":[]}]}`, wantErr: `entities[0].name: expected string, got null`},
		{name: "number is not a string", in: `{"entities":[{"name":"a","entityType":"t","observations":[1]}]}`, wantErr: `entities[0].observations[0]: expected string, got number`},
		{name: "object instead of array", in: `{"entities":{"name":"a"}}`, wantErr: `entities: expected array, got object`},
		{name: "not an object", in: `[1]`, wantErr: `expected object, got array`},
		{name: "trailing data", in: `{"entities":[]} x`, wantErr: `unexpected data after`},
		{name: "truncated", in: `{"entities":[{"name":"a"`, wantErr: `invalid JSON`},
		{name: "bad escape", in: `{"entities":[{"name":"\q","entityType":"t","observations":[]}]}`, wantErr: `bad escape`},
		{name: "lone surrogate", in: `{"entities":[{"name":"\ud800","entityType":"t","observations":[]}]}`, wantErr: `surrogate`},
		{name: "invalid utf8", in: "{\"entities\":[{\"name\":\"\xff\",\"entityType\":\"t\",\"observations\":[]}]}", wantErr: `invalid UTF-8`},
		{name: "control char", in: "{\"entities\":[{\"name\":\"a\x01\",\"entityType\":\"t\",\"observations\":[]}]}", wantErr: `control character`},
		{name: "bad number in ignored field", in: `{"x":01,"entities":[]}`, wantErr: `invalid JSON`},
		{name: "bad literal", in: `{"x":nul,"entities":[]}`, wantErr: `invalid JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mcp.DecodeCreateEntities([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeOtherTools(t *testing.T) {
	rels, err := mcp.DecodeRelations([]byte(`{"relations":[{"from":"a","to":"b","relationType":"knows"}]}`))
	if err != nil || !reflect.DeepEqual(rels, []memory.Relation{{From: "a", To: "b", RelationType: "knows"}}) {
		t.Errorf("relations %v %v", rels, err)
	}
	if _, err := mcp.DecodeRelations([]byte(`{"relations":[{"from":"a","to":"b"}]}`)); err == nil || !strings.Contains(err.Error(), `relations[0]: missing required property "relationType"`) {
		t.Errorf("relations missing: %v", err)
	}
	adds, err := mcp.DecodeAddObservations([]byte(`{"observations":[{"entityName":"a","contents":["x"]}]}`))
	if err != nil || !reflect.DeepEqual(adds, []memory.ObservationAddition{{EntityName: "a", Contents: []string{"x"}}}) {
		t.Errorf("adds %v %v", adds, err)
	}
	if _, err := mcp.DecodeAddObservations([]byte(`{"observations":[{"entityName":"a"}]}`)); err == nil || !strings.Contains(err.Error(), `"contents"`) {
		t.Errorf("adds missing: %v", err)
	}
	dels, err := mcp.DecodeDeleteObservations([]byte(`{"deletions":[{"entityName":"a","observations":["x"]}]}`))
	if err != nil || !reflect.DeepEqual(dels, []memory.ObservationDeletion{{EntityName: "a", Observations: []string{"x"}}}) {
		t.Errorf("dels %v %v", dels, err)
	}
	names, err := mcp.DecodeStrings([]byte(` {"names" : [ "a" , "b" ] } `), "names")
	if err != nil || !reflect.DeepEqual(names, []string{"a", "b"}) {
		t.Errorf("names %v %v", names, err)
	}
	if q, err := mcp.DecodeSearchNodes([]byte(`{"query":"50%_off"}`)); err != nil || q != "50%_off" {
		t.Errorf("query %q %v", q, err)
	}
	if _, err := mcp.DecodeSearchNodes([]byte(`{"query":5}`)); err == nil || !strings.Contains(err.Error(), "query: expected string, got number") {
		t.Errorf("query type: %v", err)
	}
	for _, in := range []string{``, `null`, `{}`, `{"anything":[1]}`} {
		if err := mcp.DecodeNone([]byte(in)); err != nil {
			t.Errorf("read_graph %q: %v", in, err)
		}
	}
	if err := mcp.DecodeNone([]byte(`"x"`)); err == nil {
		t.Error("read_graph accepted a string")
	}
}

func TestDecodeBeyondReference(t *testing.T) {
	a, err := mcp.DecodeSearchMemories([]byte(`{"query":"kafka tuning","limit":5}`))
	if err != nil || a.Query != "kafka tuning" || a.Limit != 5 {
		t.Errorf("search_memories %+v %v", a, err)
	}
	q, err := mcp.DecodeFindRelated([]byte(`{"name":"a","depth":3,"relationTypes":["knows"],"limit":1e1}`))
	if err != nil || !reflect.DeepEqual(q, memory.FindRelatedQuery{Name: "a", Depth: 3, RelationTypes: []string{"knows"}, Limit: 10}) {
		t.Errorf("find_related %+v %v", q, err)
	}
	for in, want := range map[string]string{
		`{"query":"x","limit":0}`:     "limit: must be between 1 and 100, got 0",
		`{"query":"x","limit":1.5}`:   "limit: expected integer, got 1.5",
		`{"query":"x","limit":"5"}`:   "limit: expected integer, got string",
		`{"query":"x","limit":null}`:  "limit: expected integer, got null",
		`{"query":"x","limt":5}`:      "limt: unknown property",
		`{"limit":5}`:                 `missing required property "query"`,
		`{"query":"x","limit":1e400}`: "limit: expected integer",
	} {
		if _, err := mcp.DecodeSearchMemories([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
	for in, want := range map[string]string{
		`{"name":"a","depth":4}`:               "depth: must be between 1 and 3, got 4",
		`{"name":"a","depth":0}`:               "depth: must be between 1 and 3, got 0",
		`{"name":"a","relationTypes":"knows"}`: "relationTypes: expected array, got string",
		`{"depth":1}`:                          `missing required property "name"`,
		`{"name":"a","hops":2}`:                "hops: unknown property",
	} {
		if _, err := mcp.DecodeFindRelated([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

// expectedEntities decodes create_entities arguments the slow way, through
// encoding/json into generic values, applying the schema by hand. ok is
// false when the schema refuses the value.
func expectedEntities(data []byte) (out []memory.Entity, ok bool) {
	var top any
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, false
	}
	if top == nil {
		top = map[string]any{}
	}
	m, isObj := top.(map[string]any)
	if !isObj {
		return nil, false
	}
	list, isArr := m["entities"].([]any)
	if !isArr {
		return nil, false
	}
	out = []memory.Entity{}
	for _, item := range list {
		e, isObj := item.(map[string]any)
		if !isObj {
			return nil, false
		}
		name, ok1 := e["name"].(string)
		typ, ok2 := e["entityType"].(string)
		obs, ok3 := e["observations"].([]any)
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		ent := memory.Entity{Name: name, EntityType: typ, Observations: []string{}}
		for _, o := range obs {
			s, ok := o.(string)
			if !ok {
				return nil, false
			}
			ent.Observations = append(ent.Observations, s)
		}
		out = append(out, ent)
	}
	return out, true
}

// FuzzDecodeCreateEntities checks the hand-written decoder against
// encoding/json plus the schema: whatever it accepts is valid JSON that the
// schema accepts, with the same values; it never panics.
func FuzzDecodeCreateEntities(f *testing.F) {
	for _, s := range []string{
		`{"entities":[{"name":"a","entityType":"t","observations":["x"]}]}`,
		`{"entities":[{"name":"\u00e9\ud83d\ude00","entityType":"t","observations":[],"x":[1,{"y":null}]}]}`,
		`{"entities":[]}`, `{}`, `null`, `[`, `{"entities":[{"name":1}]}`, `{"entities":[{"name":"a","name":"b","entityType":"","observations":[]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := mcp.DecodeCreateEntities(data)
		if err != nil {
			return
		}
		if !json.Valid(data) && len(strings.TrimSpace(string(data))) > 0 {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		want, ok := expectedEntities(data)
		if !ok {
			t.Fatalf("accepted %q which the schema refuses", data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %q as %#v, encoding/json says %#v", data, got, want)
		}
	})
}

// FuzzDecodeFindRelated: never panics; accepted values are within the
// published bounds.
func FuzzDecodeFindRelated(f *testing.F) {
	for _, s := range []string{`{"name":"a","depth":2,"relationTypes":["x"],"limit":5}`, `{"name":"a"}`, `{"name":"a","depth":-0}`, `{"name":"a","limit":1e2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := mcp.DecodeFindRelated(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if q.Depth < 0 || q.Depth > memory.MaxDepth || q.Limit < 0 || q.Limit > mcp.MaxRelatedLimit {
			t.Fatalf("out of bounds %+v from %q", q, data)
		}
	})
}

// FuzzDecodeAll runs every tool's decoder on the same input: none panics,
// and whatever one accepts is valid JSON (or empty, meaning {}).
func FuzzDecodeAll(f *testing.F) {
	for _, s := range []string{`{"relations":[{"from":"a","to":"b","relationType":"r"}]}`, `{"observations":[{"entityName":"a","contents":["x"]}]}`,
		`{"deletions":[{"entityName":"a","observations":[]}]}`, `{"names":["a"],"entityNames":["b"],"query":"q","limit":3}`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := json.Valid(data) || len(strings.TrimSpace(string(data))) == 0
		check := func(tool string, err error) {
			if err == nil && !valid {
				t.Fatalf("%s accepted invalid JSON %q", tool, data)
			}
			var ae *mcp.ArgError
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("%s: error %T is not an ArgError", tool, err)
			}
		}
		_, err := mcp.DecodeRelations(data)
		check("relations", err)
		_, err = mcp.DecodeAddObservations(data)
		check("add_observations", err)
		_, err = mcp.DecodeDeleteObservations(data)
		check("delete_observations", err)
		_, err = mcp.DecodeStrings(data, "names")
		check("open_nodes", err)
		_, err = mcp.DecodeSearchNodes(data)
		check("search_nodes", err)
		a, err := mcp.DecodeSearchMemories(data)
		check("search_memories", err)
		if err == nil && (a.Limit < 0 || a.Limit > mcp.MaxSearchLimit) {
			t.Fatalf("limit out of bounds: %+v", a)
		}
		check("read_graph", mcp.DecodeNone(data))
	})
}
