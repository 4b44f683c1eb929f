package neo4j

import (
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Record accessors: the store's queries return scalar columns only, so a
// missing or null column reads as the zero value.

func recString(r *neo4j.Record, key string) string {
	v, _ := r.Get(key)
	s, _ := v.(string)
	return s
}

func recInt(r *neo4j.Record, key string) int64 {
	v, _ := r.Get(key)
	i, _ := v.(int64)
	return i
}

func recFloat(r *neo4j.Record, key string) float64 {
	v, _ := r.Get(key)
	switch f := v.(type) {
	case float64:
		return f
	case int64:
		return float64(f)
	}
	return 0
}

func recStrings(r *neo4j.Record, key string) []string {
	v, _ := r.Get(key)
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func recEntity(r *neo4j.Record) memory.Entity {
	return memory.Entity{
		Name:         recString(r, "name"),
		EntityType:   recString(r, "entityType"),
		Observations: recStrings(r, "observations"),
	}
}

func recEntities(recs []*neo4j.Record) []memory.Entity {
	out := make([]memory.Entity, 0, len(recs))
	for _, r := range recs {
		out = append(out, recEntity(r))
	}
	return out
}

func recRelation(r *neo4j.Record) memory.Relation {
	return memory.Relation{
		From:         recString(r, "source"),
		To:           recString(r, "target"),
		RelationType: recString(r, "relationType"),
	}
}

func recRelations(recs []*neo4j.Record) []memory.Relation {
	out := make([]memory.Relation, 0, len(recs))
	for _, r := range recs {
		out = append(out, recRelation(r))
	}
	return out
}
