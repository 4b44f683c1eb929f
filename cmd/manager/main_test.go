package main

import (
	"crypto/tls"
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

func TestMetricsOptions(t *testing.T) {
	secure := metricsOptions(":8443", true)
	if !secure.SecureServing || secure.FilterProvider == nil || secure.BindAddress != ":8443" {
		t.Errorf("secure metrics %+v: want HTTPS with the authentication and authorization filter", secure)
	}
	cfg := &tls.Config{NextProtos: []string{"h2"}}
	for _, opt := range secure.TLSOpts {
		opt(cfg)
	}
	if len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "http/1.1" {
		t.Errorf("secure metrics offer %v, want HTTP/1.1 only", cfg.NextProtos)
	}
	plain := metricsOptions(":8085", false)
	if plain.SecureServing || plain.FilterProvider != nil || plain.BindAddress != ":8085" {
		t.Errorf("--metrics-secure=false %+v: want plain HTTP", plain)
	}
}
