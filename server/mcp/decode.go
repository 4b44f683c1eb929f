package mcp

import (
	"bytes"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Limits published in the input schemas of the tools beyond the reference.
const (
	// MaxSearchLimit is the largest search_memories limit.
	MaxSearchLimit = 100
	// MaxRelatedLimit is the largest find_related limit.
	MaxRelatedLimit = 1000
)

// args prepares a decoder for raw tool arguments. Absent or null arguments
// are an empty object, as clients send for tools without parameters.
func args(raw []byte) *decoder {
	t := bytes.Trim(raw, " \t\r\n") // JSON's whitespace only: not \v, \f or Unicode spaces
	if len(t) == 0 || string(t) == "null" {
		t = []byte("{}")
	}
	return newDecoder(t)
}

// decodeTop decodes the top-level arguments object with one required
// property, handled by value; other properties are validated JSON and
// ignored, as the reference schemas allow (no additionalProperties).
func decodeTop(raw []byte, name string, value func(d *decoder) error) error {
	d := args(raw)
	seen := false
	err := d.object(func(key string) error {
		if key == name {
			seen = true
			return value(d)
		}
		return d.skip()
	})
	if err != nil {
		return err
	}
	if !seen {
		return d.missing([]string{name}, []bool{false})
	}
	return d.end()
}

var entityFields = []string{"name", "entityType", "observations"}

func (d *decoder) entity() (memory.Entity, error) {
	var e memory.Entity
	var seen [3]bool
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "name":
			seen[0] = true
			e.Name, err = d.str()
		case "entityType":
			seen[1] = true
			e.EntityType, err = d.str()
		case "observations":
			seen[2] = true
			e.Observations, err = d.strings()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return e, err
	}
	return e, d.missing(entityFields, seen[:])
}

var relationFields = []string{"from", "to", "relationType"}

func (d *decoder) relation() (memory.Relation, error) {
	var r memory.Relation
	var seen [3]bool
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "from":
			seen[0] = true
			r.From, err = d.str()
		case "to":
			seen[1] = true
			r.To, err = d.str()
		case "relationType":
			seen[2] = true
			r.RelationType, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return r, err
	}
	return r, d.missing(relationFields, seen[:])
}

func (d *decoder) relations() ([]memory.Relation, error) {
	out := []memory.Relation{}
	err := d.array(func(int) error {
		r, err := d.relation()
		out = append(out, r)
		return err
	})
	return out, err
}

// nameAndStrings decodes {<nameKey>: string, <listKey>: [string]}, both
// required (add_observations and delete_observations items).
func (d *decoder) nameAndStrings(nameKey, listKey string) (string, []string, error) {
	var name string
	var list []string
	var seen [2]bool
	err := d.object(func(key string) error {
		var err error
		switch key {
		case nameKey:
			seen[0] = true
			name, err = d.str()
		case listKey:
			seen[1] = true
			list, err = d.strings()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return name, list, d.missing([]string{nameKey, listKey}, seen[:])
}

// DecodeCreateEntities decodes create_entities arguments.
func DecodeCreateEntities(raw []byte) ([]memory.Entity, error) {
	var out []memory.Entity
	err := decodeTop(raw, "entities", func(d *decoder) error {
		out = []memory.Entity{} // a repeated property: the last one wins
		return d.array(func(int) error {
			e, err := d.entity()
			out = append(out, e)
			return err
		})
	})
	return out, err
}

// DecodeRelations decodes create_relations and delete_relations arguments.
func DecodeRelations(raw []byte) ([]memory.Relation, error) {
	var out []memory.Relation
	err := decodeTop(raw, "relations", func(d *decoder) error {
		var err error
		out, err = d.relations()
		return err
	})
	return out, err
}

// DecodeAddObservations decodes add_observations arguments.
func DecodeAddObservations(raw []byte) ([]memory.ObservationAddition, error) {
	var out []memory.ObservationAddition
	err := decodeTop(raw, "observations", func(d *decoder) error {
		out = []memory.ObservationAddition{}
		return d.array(func(int) error {
			n, c, err := d.nameAndStrings("entityName", "contents")
			out = append(out, memory.ObservationAddition{EntityName: n, Contents: c})
			return err
		})
	})
	return out, err
}

// DecodeDeleteObservations decodes delete_observations arguments.
func DecodeDeleteObservations(raw []byte) ([]memory.ObservationDeletion, error) {
	var out []memory.ObservationDeletion
	err := decodeTop(raw, "deletions", func(d *decoder) error {
		out = []memory.ObservationDeletion{}
		return d.array(func(int) error {
			n, o, err := d.nameAndStrings("entityName", "observations")
			out = append(out, memory.ObservationDeletion{EntityName: n, Observations: o})
			return err
		})
	})
	return out, err
}

// DecodeStrings decodes {<key>: [string]} (delete_entities: entityNames,
// open_nodes: names).
func DecodeStrings(raw []byte, key string) ([]string, error) {
	var out []string
	err := decodeTop(raw, key, func(d *decoder) error {
		var err error
		out, err = d.strings()
		return err
	})
	return out, err
}

// DecodeSearchNodes decodes search_nodes arguments.
func DecodeSearchNodes(raw []byte) (string, error) {
	var q string
	err := decodeTop(raw, "query", func(d *decoder) error {
		var err error
		q, err = d.str()
		return err
	})
	return q, err
}

// DecodeNone decodes the arguments of a tool without parameters (read_graph):
// an object; properties are ignored as the reference schema allows.
func DecodeNone(raw []byte) error {
	d := args(raw)
	if err := d.object(func(string) error { return d.skip() }); err != nil {
		return err
	}
	return d.end()
}

// SearchMemoriesArgs are search_memories arguments.
type SearchMemoriesArgs struct {
	Query string
	Limit int
}

// DecodeSearchMemories decodes search_memories arguments; its schema has
// additionalProperties false, so unknown properties are refused.
func DecodeSearchMemories(raw []byte) (SearchMemoriesArgs, error) {
	var a SearchMemoriesArgs
	d := args(raw)
	seen := []bool{false}
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "query":
			seen[0] = true
			a.Query, err = d.str()
		case "limit":
			a.Limit, err = d.integer(1, MaxSearchLimit)
		default:
			err = d.errorf("unknown property (allowed: query, limit)")
		}
		return err
	})
	if err == nil {
		err = d.missing([]string{"query"}, seen)
	}
	if err == nil {
		err = d.end()
	}
	return a, err
}

// DecodeFindRelated decodes find_related arguments; its schema has
// additionalProperties false, so unknown properties are refused.
func DecodeFindRelated(raw []byte) (memory.FindRelatedQuery, error) {
	var q memory.FindRelatedQuery
	d := args(raw)
	seen := []bool{false}
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "name":
			seen[0] = true
			q.Name, err = d.str()
		case "depth":
			q.Depth, err = d.integer(1, memory.MaxDepth)
		case "relationTypes":
			q.RelationTypes, err = d.strings()
		case "limit":
			q.Limit, err = d.integer(1, MaxRelatedLimit)
		default:
			err = d.errorf("unknown property (allowed: name, depth, relationTypes, limit)")
		}
		return err
	})
	if err == nil {
		err = d.missing([]string{"name"}, seen)
	}
	if err == nil {
		err = d.end()
	}
	return q, err
}
