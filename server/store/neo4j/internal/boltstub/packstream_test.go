package boltstub

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestPackStreamEncoding(t *testing.T) {
	// Byte forms from the PackStream specification.
	tests := []struct {
		v    any
		want []byte
	}{
		{nil, []byte{0xC0}},
		{true, []byte{0xC3}},
		{false, []byte{0xC2}},
		{1, []byte{0x01}},
		{-16, []byte{0xF0}},
		{-17, []byte{0xC8, 0xEF}},
		{127, []byte{0x7F}},
		{128, []byte{0xC9, 0x00, 0x80}},
		{int64(math.MaxInt32) + 1, []byte{0xCB, 0, 0, 0, 0, 0x80, 0, 0, 0}},
		{1.5, []byte{0xC1, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0}},
		{"", []byte{0x80}},
		{"A", []byte{0x81, 0x41}},
		{strings.Repeat("x", 16), append([]byte{0xD0, 16}, bytes.Repeat([]byte("x"), 16)...)},
		{[]any{1, "a"}, []byte{0x92, 0x01, 0x81, 0x61}},
		{map[string]any{"n": 1000}, []byte{0xA1, 0x81, 0x6E, 0xC9, 0x03, 0xE8}},
		{Struct{Tag: 0x70, Fields: []any{map[string]any{}}}, []byte{0xB1, 0x70, 0xA0}},
	}
	for _, tt := range tests {
		got, err := Encode(tt.v)
		if err != nil {
			t.Errorf("Encode(%#v): %v", tt.v, err)
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("Encode(%#v) = % X, want % X", tt.v, got, tt.want)
		}
	}
}

func TestPackStreamRoundTrip(t *testing.T) {
	big := strings.Repeat("é", 70000) // a 32-bit string length
	values := []any{
		nil, true, int64(-9223372036854775808), int64(9223372036854775807), int64(-129), int64(32768),
		-0.25, "日本語", big, []byte{1, 2, 3},
		[]any{[]any{}, map[string]any{"k": []any{nil, false}}},
		map[string]any{"a": int64(1), "b": "two", "c": []any{"x"}},
		Struct{Tag: 0x10, Fields: []any{"RUN", map[string]any{}, map[string]any{}}},
	}
	for _, v := range values {
		b, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode(%T): %v", v, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%T)): %v", v, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %T changed the value", v)
		}
	}
	if _, err := Decode([]byte{0xD0, 5, 'a'}); err == nil {
		t.Error("a truncated string decoded")
	}
	if _, err := Decode([]byte{0x01, 0x02}); err == nil {
		t.Error("trailing bytes accepted")
	}
	if _, err := Encode(struct{}{}); err == nil {
		t.Error("an unknown type encoded")
	}
}

func TestNormalize(t *testing.T) {
	got, err := Normalize(map[string]any{"names": []string{"a"}, "n": 1, "rows": []map[string]any{{"x": 2}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"names": []any{"a"}, "n": int64(1), "rows": []any{map[string]any{"x": int64(2)}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize = %#v, want %#v", got, want)
	}
}
