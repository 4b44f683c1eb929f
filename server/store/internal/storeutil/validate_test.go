package storeutil

import (
	"errors"
	"reflect"
	"testing"

	"github.com/memory-operator/memory-operator/server/memory"
)

func TestRelatedQuery(t *testing.T) {
	tests := []struct {
		in        memory.FindRelatedQuery
		wantDepth int
		wantLimit int
		wantErr   bool
	}{
		{memory.FindRelatedQuery{Name: "a"}, 1, DefaultRelatedLimit, false},
		{memory.FindRelatedQuery{Name: "a", Depth: 3, Limit: 5}, 3, 5, false},
		{memory.FindRelatedQuery{Name: "a", Depth: 4}, 0, 0, true},
		{memory.FindRelatedQuery{Name: "a", Depth: -1}, 0, 0, true},
		{memory.FindRelatedQuery{Name: "a", Limit: -1}, 0, 0, true},
		{memory.FindRelatedQuery{Name: ""}, 0, 0, true},
		{memory.FindRelatedQuery{Name: "a", Limit: MaxRelatedLimit + 1}, 1, MaxRelatedLimit, false},
	}
	for _, tt := range tests {
		got, err := RelatedQuery(tt.in)
		if tt.wantErr {
			if !errors.Is(err, memory.ErrInvalidArgument) {
				t.Errorf("RelatedQuery(%+v) error = %v, want ErrInvalidArgument", tt.in, err)
			}
			continue
		}
		if err != nil || got.Depth != tt.wantDepth || got.Limit != tt.wantLimit {
			t.Errorf("RelatedQuery(%+v) = %+v, %v; want depth %d limit %d", tt.in, got, err, tt.wantDepth, tt.wantLimit)
		}
	}
}

func TestSearchLimit(t *testing.T) {
	for in, want := range map[int]int{0: DefaultSearchLimit, 1: 1, 50: 50, MaxSearchLimit + 5: MaxSearchLimit} {
		if got, err := SearchLimit(in); err != nil || got != want {
			t.Errorf("SearchLimit(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := SearchLimit(-1); !errors.Is(err, memory.ErrInvalidArgument) {
		t.Errorf("SearchLimit(-1) error = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"entities ok", ValidateEntities([]memory.Entity{{Name: "a", Observations: []string{""}}})},
		{"relations ok", ValidateRelations([]memory.Relation{{From: "a", To: "b", RelationType: "c"}})},
	}
	for _, tt := range tests {
		if tt.err != nil {
			t.Errorf("%s: %v", tt.name, tt.err)
		}
	}
	bad := []error{
		ValidateEntities([]memory.Entity{{Name: "ok"}, {Name: ""}}),
		ValidateEntities([]memory.Entity{{Name: "a\x00b"}}),
		ValidateEntities([]memory.Entity{{Name: "a", Observations: []string{"x\x00"}}}),
		ValidateRelations([]memory.Relation{{From: "a", To: "", RelationType: "c"}}),
		ValidateRelations([]memory.Relation{{From: "a", To: "b"}}),
		ValidateAdditions([]memory.ObservationAddition{{EntityName: ""}}),
		ValidateGraph(memory.Graph{Relations: []memory.Relation{{}}}),
	}
	for i, err := range bad {
		if !errors.Is(err, memory.ErrInvalidArgument) {
			t.Errorf("bad input %d: error = %v, want ErrInvalidArgument", i, err)
		}
	}
}

func TestDedup(t *testing.T) {
	if got := Dedup([]string{"b", "a", "b", "c", "a"}); !reflect.DeepEqual(got, []string{"b", "a", "c"}) {
		t.Errorf("Dedup = %v", got)
	}
	if got := Dedup(nil); got == nil || len(got) != 0 {
		t.Errorf("Dedup(nil) = %#v, want empty non-nil", got)
	}
}
