package mcp

import (
	"bytes"
	"sync"
	"unicode/utf8"

	"github.com/memory-operator/memory-operator/server/memory"
)

// Rendering the graph tools' results.
//
// A result carries its value twice: as compact JSON (structuredContent) and
// as JSON indented by two spaces (the text content, the reference server's
// JSON.stringify(v, null, 2)). Through encoding/json that is a reflective
// encode and a second pass of json.Indent over the output, 5% of the
// server's CPU under the load test; render writes both in one pass over the
// few types the tools return, byte for byte what encoding/json (without
// HTML escaping) and json.Indent produce (render_test.go compares them).
type rendered struct {
	compact, text []byte
}

// renderValue renders v when it is one of the graph result types. The
// compact form is returned in a buffer of its own; text is a string.
func renderValue(v any) (compact []byte, text string, ok bool) {
	p := renderPool.Get().(*rendered)
	defer renderPool.Put(p)
	p.compact, p.text = p.compact[:0], p.text[:0]
	switch v := v.(type) {
	case memory.Graph:
		p.graph(v, 0)
	case []memory.Entity:
		array(p, v, 0, (*rendered).entity)
	case []memory.Relation:
		array(p, v, 0, (*rendered).relation)
	case []memory.ObservationResult:
		array(p, v, 0, (*rendered).observationResult)
	default:
		return nil, "", false
	}
	return bytes.Clone(p.compact), string(p.text), true
}

var renderPool = sync.Pool{New: func() any { return &rendered{compact: make([]byte, 0, 4096), text: make([]byte, 0, 4096)} }}

func (p *rendered) raw(s string) {
	p.compact = append(p.compact, s...)
	p.text = append(p.text, s...)
}

// newline starts a line of the text at depth d.
func (p *rendered) newline(d int) {
	p.text = append(p.text, '\n')
	for range d {
		p.text = append(p.text, "  "...)
	}
}

// next separates the i-th member or element (at depth d) from the previous.
func (p *rendered) next(i, d int) {
	if i > 0 {
		p.raw(",")
	}
	p.newline(d)
}

// key starts the i-th member of an object whose members are at depth d.
func (p *rendered) key(i, d int, k string) {
	p.next(i, d)
	p.compact = append(p.compact, '"')
	p.compact = append(p.compact, k...)
	p.compact = append(p.compact, `":`...)
	p.text = append(p.text, '"')
	p.text = append(p.text, k...)
	p.text = append(p.text, `": `...)
}

func (p *rendered) str(s string) {
	start := len(p.compact)
	p.compact = appendJSONString(p.compact, s)
	p.text = append(p.text, p.compact[start:]...)
}

// array renders items as a JSON array whose brackets are at depth d and
// elements at d+1: null when nil, [] when empty.
func array[T any](p *rendered, items []T, d int, elem func(p *rendered, item T, d int)) {
	switch {
	case items == nil:
		p.raw("null")
		return
	case len(items) == 0:
		p.raw("[]")
		return
	}
	p.raw("[")
	for i, it := range items {
		p.next(i, d+1)
		elem(p, it, d+1)
	}
	p.newline(d)
	p.raw("]")
}

func (p *rendered) strings(ss []string, d int) {
	array(p, ss, d, func(p *rendered, s string, _ int) { p.str(s) })
}

func (p *rendered) graph(g memory.Graph, d int) {
	p.raw("{")
	p.key(0, d+1, "entities")
	array(p, g.Entities, d+1, (*rendered).entity)
	p.key(1, d+1, "relations")
	array(p, g.Relations, d+1, (*rendered).relation)
	p.newline(d)
	p.raw("}")
}

func (p *rendered) entity(e memory.Entity, d int) {
	p.raw("{")
	p.key(0, d+1, "name")
	p.str(e.Name)
	p.key(1, d+1, "entityType")
	p.str(e.EntityType)
	p.key(2, d+1, "observations")
	p.strings(e.Observations, d+1)
	p.newline(d)
	p.raw("}")
}

func (p *rendered) relation(r memory.Relation, d int) {
	p.raw("{")
	p.key(0, d+1, "from")
	p.str(r.From)
	p.key(1, d+1, "to")
	p.str(r.To)
	p.key(2, d+1, "relationType")
	p.str(r.RelationType)
	p.newline(d)
	p.raw("}")
}

func (p *rendered) observationResult(r memory.ObservationResult, d int) {
	p.raw("{")
	p.key(0, d+1, "entityName")
	p.str(r.EntityName)
	p.key(1, d+1, "addedObservations")
	p.strings(r.AddedObservations, d+1)
	p.newline(d)
	p.raw("}")
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string as encoding/json writes it
// without HTML escaping: quotes, backslashes and control characters escaped
// (\b \f \n \r \t short), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
