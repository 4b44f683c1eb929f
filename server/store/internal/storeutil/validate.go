package storeutil

import (
	"fmt"
	"strings"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Defaults shared by every backend.
const (
	// DefaultSearchLimit is SearchMemories' limit when the caller gives 0.
	DefaultSearchLimit = 10
	// MaxSearchLimit caps SearchMemories' limit.
	MaxSearchLimit = 1000
	// DefaultRelatedLimit is FindRelated's limit when the caller gives 0.
	DefaultRelatedLimit = 100
	// MaxRelatedLimit caps FindRelated's limit.
	MaxRelatedLimit = 10000
)

func text(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return memory.InvalidArgument("%s must not contain NUL characters", what)
	}
	return nil
}

func name(what, s string) error {
	if s == "" {
		return memory.InvalidArgument("%s must not be empty", what)
	}
	return text(what, s)
}

// ValidateEntities checks entities before any write: names must be non-empty
// and no string may hold NUL (PostgreSQL cannot store it).
func ValidateEntities(entities []memory.Entity) error {
	for i, e := range entities {
		if err := name("entity name", e.Name); err != nil {
			return wrapIndex("entities", i, err)
		}
		if err := text("entityType", e.EntityType); err != nil {
			return wrapIndex("entities", i, err)
		}
		for _, o := range e.Observations {
			if err := text("observation", o); err != nil {
				return wrapIndex("entities", i, err)
			}
		}
	}
	return nil
}

// ValidateRelations checks that every relation names both ends and a type.
func ValidateRelations(relations []memory.Relation) error {
	for i, r := range relations {
		for _, f := range [][2]string{{"from", r.From}, {"to", r.To}, {"relationType", r.RelationType}} {
			if err := name(f[0], f[1]); err != nil {
				return wrapIndex("relations", i, err)
			}
		}
	}
	return nil
}

// ValidateAdditions checks observation additions.
func ValidateAdditions(additions []memory.ObservationAddition) error {
	for i, a := range additions {
		if err := name("entityName", a.EntityName); err != nil {
			return wrapIndex("observations", i, err)
		}
		for _, c := range a.Contents {
			if err := text("observation", c); err != nil {
				return wrapIndex("observations", i, err)
			}
		}
	}
	return nil
}

// ValidateGraph checks a graph to import.
func ValidateGraph(g memory.Graph) error {
	if err := ValidateEntities(g.Entities); err != nil {
		return err
	}
	return ValidateRelations(g.Relations)
}

// SearchLimit normalises SearchMemories' limit.
func SearchLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, memory.InvalidArgument("limit must not be negative, got %d", limit)
	case limit == 0:
		return DefaultSearchLimit, nil
	case limit > MaxSearchLimit:
		return MaxSearchLimit, nil
	}
	return limit, nil
}

// RelatedQuery normalises a FindRelatedQuery: depth 0 means 1, limit 0 means
// DefaultRelatedLimit; a depth beyond memory.MaxDepth or a negative value is
// refused.
func RelatedQuery(q memory.FindRelatedQuery) (memory.FindRelatedQuery, error) {
	if q.Name == "" {
		return q, memory.InvalidArgument("name must not be empty")
	}
	switch {
	case q.Depth < 0 || q.Depth > memory.MaxDepth:
		return q, memory.InvalidArgument("depth must be between 1 and %d, got %d", memory.MaxDepth, q.Depth)
	case q.Depth == 0:
		q.Depth = 1
	}
	switch {
	case q.Limit < 0:
		return q, memory.InvalidArgument("limit must not be negative, got %d", q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultRelatedLimit
	case q.Limit > MaxRelatedLimit:
		q.Limit = MaxRelatedLimit
	}
	return q, nil
}

// Dedup returns ss without later duplicates, keeping the first occurrence's
// order. It never returns nil.
func Dedup(ss []string) []string {
	out := make([]string, 0, len(ss))
	seen := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

// NonNil returns ss, or an empty slice when ss is nil.
func NonNil[T any](ss []T) []T {
	if ss == nil {
		return []T{}
	}
	return ss
}

func wrapIndex(field string, i int, err error) error {
	return fmt.Errorf("%s[%d]: %w", field, i, err)
}
