package mcp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small, strict JSON decoder for tool arguments. The SDK's
// typed handlers decode into generic maps to validate against the schema and
// then decode again; that costs about half the CPU of a call. The handlers
// here decode once, straight into the domain types, and check exactly what
// the published input schemas say: required properties, types (null is not
// a string), integer ranges, and for schemas with additionalProperties false
// no unknown properties. The input must be one valid JSON value in UTF-8.

// ArgError is a tool-argument validation failure. Path is a JSONPath-like
// location such as "entities[2].entityType" (empty for the whole object).
type ArgError struct {
	Path string
	Msg  string
}

func (e *ArgError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// maxNesting bounds how deep unknown values may nest before they are refused.
const maxNesting = 64

type pathElem struct {
	key   string
	index int // -1 when key is used
}

type decoder struct {
	data []byte
	pos  int
	path []pathElem
}

func newDecoder(data []byte) *decoder {
	return &decoder{data: data, path: make([]pathElem, 0, 4)}
}

func (d *decoder) pathString() string {
	var b strings.Builder
	for _, p := range d.path {
		if p.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	return b.String()
}

func (d *decoder) errorf(format string, args ...any) error {
	return &ArgError{Path: d.pathString(), Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// kind names the JSON type of the next value for error messages.
func (d *decoder) kind() string {
	d.ws()
	if d.pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	default:
		return fmt.Sprintf("invalid character %q", c)
	}
}

// end checks that only whitespace follows the top-level value.
func (d *decoder) end() error {
	d.ws()
	if d.pos != len(d.data) {
		d.path = d.path[:0]
		return d.errorf("invalid JSON: unexpected data after the arguments object at offset %d", d.pos)
	}
	return nil
}

// object decodes an object, calling field for each property with the key;
// field must consume the value (with a typed method or skip). A nil field
// function refuses every property (additionalProperties false, no properties).
func (d *decoder) object(field func(key string) error) error {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return d.errorf("expected object, got %s", d.kind())
	}
	d.pos++
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return d.errorf("invalid JSON: expected a property name, got %s", d.kind())
		}
		key, err := d.rawString()
		if err != nil {
			return err
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.errorf("invalid JSON: expected ':' after property name %q", key)
		}
		d.pos++
		d.path = append(d.path, pathElem{key: key, index: -1})
		if field == nil {
			return d.errorf("unknown property (this tool takes no arguments)")
		}
		if err := field(key); err != nil {
			return err
		}
		d.path = d.path[:len(d.path)-1]
		d.ws()
		if d.pos >= len(d.data) {
			return d.errorf("invalid JSON: unterminated object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.errorf("invalid JSON: expected ',' or '}' in object, got %q", d.data[d.pos])
		}
	}
}

// array decodes an array, calling elem for each element's index; elem must
// consume the element.
func (d *decoder) array(elem func(i int) error) error {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '[' {
		return d.errorf("expected array, got %s", d.kind())
	}
	d.pos++
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.path = append(d.path, pathElem{index: i})
		if err := elem(i); err != nil {
			return err
		}
		d.path = d.path[:len(d.path)-1]
		d.ws()
		if d.pos >= len(d.data) {
			return d.errorf("invalid JSON: unterminated array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.errorf("invalid JSON: expected ',' or ']' in array, got %q", d.data[d.pos])
		}
	}
}

// str decodes a string value.
func (d *decoder) str() (string, error) {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", d.errorf("expected string, got %s", d.kind())
	}
	return d.rawString()
}

// strings decodes an array of strings; the result is never nil.
func (d *decoder) strings() ([]string, error) {
	out := []string{}
	err := d.array(func(int) error {
		s, err := d.str()
		out = append(out, s)
		return err
	})
	return out, err
}

// integer decodes a JSON number that must be an integer in [lo, hi].
func (d *decoder) integer(lo, hi int) (int, error) {
	d.ws()
	start := d.pos
	if d.pos >= len(d.data) || !(d.data[d.pos] == '-' || (d.data[d.pos] >= '0' && d.data[d.pos] <= '9')) {
		return 0, d.errorf("expected integer, got %s", d.kind())
	}
	if err := d.number(); err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(d.data[start:d.pos]), 64)
	if err != nil || f != math.Trunc(f) {
		return 0, d.errorf("expected integer, got %s", d.data[start:d.pos])
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, d.errorf("must be between %d and %d, got %s", lo, hi, d.data[start:d.pos])
	}
	return int(f), nil
}

// rawString decodes the string starting at d.pos (a quote), validating UTF-8
// and escapes.
func (d *decoder) rawString() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		case c == '\\':
			return d.escapedString(start)
		case c < 0x20:
			return "", d.errorf("invalid JSON: control character %#x in string", c)
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.errorf("invalid UTF-8 in string")
			}
			d.pos += size
		}
	}
	return "", d.errorf("invalid JSON: unterminated string")
}

// escapedString continues rawString once a backslash was seen.
func (d *decoder) escapedString(start int) (string, error) {
	buf := make([]byte, 0, d.pos-start+16)
	buf = append(buf, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", d.errorf("invalid JSON: unterminated string")
			}
			e := d.data[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", d.errorf("invalid JSON: bad \\u escape in string")
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						save := d.pos
						d.pos += 2
						if lo, ok := d.hex4(); ok {
							r2 = utf16.DecodeRune(r, lo)
						}
						if r2 == utf8.RuneError {
							d.pos = save
						}
					}
					if r2 == utf8.RuneError {
						return "", d.errorf("invalid JSON: unpaired UTF-16 surrogate in string")
					}
					r = r2
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.errorf("invalid JSON: bad escape \\%c in string", e)
			}
		case c < 0x20:
			return "", d.errorf("invalid JSON: control character %#x in string", c)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.errorf("invalid UTF-8 in string")
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return "", d.errorf("invalid JSON: unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

// number consumes a JSON number, validating its grammar.
func (d *decoder) number() error {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return d.errorf("invalid JSON: bad number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return d.errorf("invalid JSON: bad number %s", d.data[start:d.pos])
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return d.errorf("invalid JSON: bad number %s", d.data[start:d.pos])
		}
	}
	return nil
}

// skip consumes and validates any JSON value (an ignored property).
func (d *decoder) skip() error { return d.skipDepth(0) }

func (d *decoder) skipDepth(depth int) error {
	if depth > maxNesting {
		return d.errorf("value nested deeper than %d levels", maxNesting)
	}
	d.ws()
	if d.pos >= len(d.data) {
		return d.errorf("invalid JSON: unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(func(string) error { return d.skipDepth(depth + 1) })
	case c == '[':
		return d.array(func(int) error { return d.skipDepth(depth + 1) })
	case c == '"':
		_, err := d.rawString()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
				d.pos += len(lit)
				return nil
			}
		}
		return d.errorf("invalid JSON: unexpected %s", d.kind())
	}
}

// missing reports the first required property not seen.
func (d *decoder) missing(names []string, seen []bool) error {
	for i, ok := range seen {
		if !ok {
			return d.errorf("missing required property %q", names[i])
		}
	}
	return nil
}
