package main

import (
	"reflect"
	"sort"
	"testing"
)

func TestNamespaces(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil: all namespaces
	}{
		{"", nil},
		{" , ", nil},
		{"agents", []string{"agents"}},
		{"agents, tools ,agents", []string{"agents", "tools"}},
	}
	for _, tc := range cases {
		got := namespaces(tc.in)
		if tc.want == nil {
			if got != nil {
				t.Errorf("namespaces(%q) = %v, want nil (all namespaces)", tc.in, got)
			}
			continue
		}
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, tc.want) {
			t.Errorf("namespaces(%q) = %v, want %v", tc.in, keys, tc.want)
		}
	}
}
