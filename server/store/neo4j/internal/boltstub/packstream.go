package boltstub

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// Struct is a PackStream structure: a tag byte and its fields.
type Struct struct {
	Tag    byte
	Fields []any
}

// encoder packs Go values as PackStream. It knows the values the stub needs:
// nil, bool, integers, float64, string, []byte, lists, maps with string keys
// and Struct. Map keys are written in sorted order, for stable bytes.
type encoder struct{ buf []byte }

func (e *encoder) header(tiny, b8, b16, b32 byte, n int) {
	switch {
	case n < 16 && tiny != 0:
		e.buf = append(e.buf, tiny|byte(n))
	case n < 1<<8 && b8 != 0:
		e.buf = append(e.buf, b8, byte(n))
	case n < 1<<16:
		e.buf = append(e.buf, b16)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
	default:
		e.buf = append(e.buf, b32)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
	}
}

func (e *encoder) int(i int64) {
	switch {
	case i >= -16 && i <= 127:
		e.buf = append(e.buf, byte(int8(i)))
	case i >= math.MinInt8 && i <= math.MaxInt8:
		e.buf = append(e.buf, 0xC8, byte(int8(i)))
	case i >= math.MinInt16 && i <= math.MaxInt16:
		e.buf = append(e.buf, 0xC9)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(int16(i)))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		e.buf = append(e.buf, 0xCA)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(int32(i)))
	default:
		e.buf = append(e.buf, 0xCB)
		e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(i))
	}
}

func (e *encoder) string(s string) {
	e.header(0x80, 0xD0, 0xD1, 0xD2, len(s))
	e.buf = append(e.buf, s...)
}

func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, 0xC0)
	case bool:
		if x {
			e.buf = append(e.buf, 0xC3)
		} else {
			e.buf = append(e.buf, 0xC2)
		}
	case int:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int64:
		e.int(x)
	case float64:
		e.buf = append(e.buf, 0xC1)
		e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(x))
	case string:
		e.string(x)
	case []byte:
		e.header(0, 0xCC, 0xCD, 0xCE, len(x))
		e.buf = append(e.buf, x...)
	case []any:
		e.header(0x90, 0xD4, 0xD5, 0xD6, len(x))
		for _, y := range x {
			if err := e.value(y); err != nil {
				return err
			}
		}
	case []string:
		e.header(0x90, 0xD4, 0xD5, 0xD6, len(x))
		for _, y := range x {
			e.string(y)
		}
	case []map[string]any:
		e.header(0x90, 0xD4, 0xD5, 0xD6, len(x))
		for _, y := range x {
			if err := e.value(y); err != nil {
				return err
			}
		}
	case map[string]any:
		e.header(0xA0, 0xD8, 0xD9, 0xDA, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e.string(k)
			if err := e.value(x[k]); err != nil {
				return err
			}
		}
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, y := range x {
			m[k] = y
		}
		return e.value(m)
	case Struct:
		if len(x.Fields) > 15 {
			return fmt.Errorf("packstream: structure with %d fields", len(x.Fields))
		}
		e.buf = append(e.buf, 0xB0|byte(len(x.Fields)), x.Tag)
		for _, y := range x.Fields {
			if err := e.value(y); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("packstream: cannot encode %T", v)
	}
	return nil
}

// Encode packs v.
func Encode(v any) ([]byte, error) {
	var e encoder
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// decoder unpacks PackStream into nil, bool, int64, float64, string,
// []byte, []any, map[string]any and Struct.
type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || d.pos+n > len(d.buf) {
		return nil, fmt.Errorf("packstream: truncated value at byte %d", d.pos)
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) size(marker byte, b8, b16, b32 byte) (int, error) {
	var b []byte
	var err error
	switch marker {
	case b8:
		b, err = d.take(1)
		if err == nil {
			return int(b[0]), nil
		}
	case b16:
		b, err = d.take(2)
		if err == nil {
			return int(binary.BigEndian.Uint16(b)), nil
		}
	case b32:
		b, err = d.take(4)
		if err == nil {
			return int(binary.BigEndian.Uint32(b)), nil
		}
	}
	return 0, err
}

func (d *decoder) value() (any, error) {
	mb, err := d.take(1)
	if err != nil {
		return nil, err
	}
	m := mb[0]
	switch {
	case m <= 0x7F:
		return int64(m), nil
	case m >= 0xF0:
		return int64(int8(m)), nil
	case m >= 0x80 && m <= 0x8F:
		return d.str(int(m & 0x0F))
	case m >= 0x90 && m <= 0x9F:
		return d.list(int(m & 0x0F))
	case m >= 0xA0 && m <= 0xAF:
		return d.dict(int(m & 0x0F))
	case m >= 0xB0 && m <= 0xBF:
		return d.structure(int(m & 0x0F))
	}
	switch m {
	case 0xC0:
		return nil, nil
	case 0xC2:
		return false, nil
	case 0xC3:
		return true, nil
	case 0xC1:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case 0xC8:
		b, err := d.take(1)
		if err != nil {
			return nil, err
		}
		return int64(int8(b[0])), nil
	case 0xC9:
		b, err := d.take(2)
		if err != nil {
			return nil, err
		}
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case 0xCA:
		b, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 0xCB:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	case 0xD0, 0xD1, 0xD2:
		n, err := d.size(m, 0xD0, 0xD1, 0xD2)
		if err != nil {
			return nil, err
		}
		return d.str(n)
	case 0xD4, 0xD5, 0xD6:
		n, err := d.size(m, 0xD4, 0xD5, 0xD6)
		if err != nil {
			return nil, err
		}
		return d.list(n)
	case 0xD8, 0xD9, 0xDA:
		n, err := d.size(m, 0xD8, 0xD9, 0xDA)
		if err != nil {
			return nil, err
		}
		return d.dict(n)
	case 0xCC, 0xCD, 0xCE:
		n, err := d.size(m, 0xCC, 0xCD, 0xCE)
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), b...), nil
	}
	return nil, fmt.Errorf("packstream: unknown marker 0x%02X at byte %d", m, d.pos-1)
}

func (d *decoder) str(n int) (any, error) {
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func (d *decoder) list(n int) (any, error) {
	out := make([]any, 0, n)
	for range n {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) dict(n int) (any, error) {
	out := make(map[string]any, n)
	for range n {
		k, err := d.value()
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("packstream: map key of type %T", k)
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out[ks] = v
	}
	return out, nil
}

func (d *decoder) structure(n int) (any, error) {
	tag, err := d.take(1)
	if err != nil {
		return nil, err
	}
	s := Struct{Tag: tag[0], Fields: make([]any, 0, n)}
	for range n {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, v)
	}
	return s, nil
}

// Decode unpacks exactly one value from b.
func Decode(b []byte) (any, error) {
	d := decoder{buf: b}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.pos != len(b) {
		return nil, fmt.Errorf("packstream: %d trailing bytes", len(b)-d.pos)
	}
	return v, nil
}

// Normalize returns v as the stub would decode it off the wire (ints become
// int64, []string becomes []any...), so that expected values written in Go
// compare with reflect.DeepEqual to what the driver sent.
func Normalize(v any) (any, error) {
	b, err := Encode(v)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}
