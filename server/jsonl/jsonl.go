// Package jsonl reads and writes the reference memory server's file format
// (@modelcontextprotocol/server-memory, memory.jsonl): one JSON object per
// line, {"type":"entity","name","entityType","observations"} or
// {"type":"relation","from","to","relationType"}; blank lines are ignored.
//
// Read validates the whole input before returning anything, so an import of a
// malformed file is refused (with the line numbers) and writes nothing.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/memory-operator/memory-operator/server/memory"
)

// MaxLineBytes is the longest line Read accepts.
const MaxLineBytes = 64 << 20

// maxReported caps how many bad lines one error lists.
const maxReported = 20

// LineError is a malformed line.
type LineError struct {
	// Line is 1-based.
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

type item struct {
	Type         *string    `json:"type"`
	Name         *string    `json:"name"`
	EntityType   *string    `json:"entityType"`
	Observations *[]*string `json:"observations"`
	From         *string    `json:"from"`
	To           *string    `json:"to"`
	RelationType *string    `json:"relationType"`
}

// Read parses and validates a whole file. On any malformed line it returns
// no graph and an error joining a *LineError per bad line (at most 20).
func Read(r io.Reader) (memory.Graph, error) {
	g := memory.Graph{Entities: []memory.Entity{}, Relations: []memory.Relation{}}
	br := bufio.NewReaderSize(r, 64<<10)
	var errs []error
	bad := func(n int, format string, args ...any) {
		if len(errs) < maxReported {
			errs = append(errs, &LineError{Line: n, Msg: fmt.Sprintf(format, args...)})
		}
	}
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, bufio.ErrBufferFull) {
				bad(n, "longer than %d bytes", MaxLineBytes)
				break
			}
			return memory.Graph{}, fmt.Errorf("while reading line %d: %w", n, err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			parseLine(t, n, &g, bad)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(errs) > 0 {
		return memory.Graph{}, errors.Join(errs...)
	}
	return g, nil
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLineBytes {
			return nil, bufio.ErrBufferFull
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, err
	}
}

func parseLine(t []byte, n int, g *memory.Graph, bad func(int, string, ...any)) {
	if !utf8.Valid(t) {
		bad(n, "not valid UTF-8")
		return
	}
	var it item
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(&it); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			bad(n, "field %q must be a %s, got %s", te.Field, want(te.Field), te.Value)
		} else {
			bad(n, "not a JSON object: %v", err)
		}
		return
	}
	if dec.More() {
		bad(n, "more than one JSON value on the line")
		return
	}
	str := func(name string, p *string) bool {
		if p == nil {
			bad(n, "missing string field %q", name)
			return false
		}
		return true
	}
	if it.Type == nil {
		bad(n, `missing field "type" ("entity" or "relation")`)
		return
	}
	switch *it.Type {
	case "entity":
		if !str("name", it.Name) || !str("entityType", it.EntityType) {
			return
		}
		if *it.Name == "" {
			bad(n, "entity name must not be empty")
			return
		}
		e := memory.Entity{Name: *it.Name, EntityType: *it.EntityType, Observations: []string{}}
		if it.Observations != nil {
			for i, o := range *it.Observations {
				if o == nil {
					bad(n, "observations[%d] must be a string, got null", i)
					return
				}
				e.Observations = append(e.Observations, *o)
			}
		}
		g.Entities = append(g.Entities, e)
	case "relation":
		if !str("from", it.From) || !str("to", it.To) || !str("relationType", it.RelationType) {
			return
		}
		g.Relations = append(g.Relations, memory.Relation{From: *it.From, To: *it.To, RelationType: *it.RelationType})
	default:
		bad(n, `field "type" is %q, want "entity" or "relation"`, *it.Type)
	}
}

func want(field string) string {
	if field == "observations" {
		return "array of strings"
	}
	return "string"
}

type entityLine struct {
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
}

type relationLine struct {
	Type         string `json:"type"`
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relationType"`
}

// Write renders g in the reference format: entities first, then relations,
// one object per line, each line ending in a newline.
func Write(w io.Writer, g memory.Graph) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, e := range g.Entities {
		obs := e.Observations
		if obs == nil {
			obs = []string{}
		}
		if err := enc.Encode(entityLine{Type: "entity", Name: e.Name, EntityType: e.EntityType, Observations: obs}); err != nil {
			return fmt.Errorf("while writing entity %q: %w", e.Name, err)
		}
	}
	for _, r := range g.Relations {
		if err := enc.Encode(relationLine{Type: "relation", From: r.From, To: r.To, RelationType: r.RelationType}); err != nil {
			return fmt.Errorf("while writing a relation: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("while writing the export: %w", err)
	}
	return nil
}
