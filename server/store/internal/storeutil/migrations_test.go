package storeutil

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int // versions in order
		wantErr string
	}{
		{"ordered by version, not name", fstest.MapFS{
			"m/0010_ten.sql": file("ten"), "m/0002_two.sql": file("two"), "m/0001_one.sql": file("one"),
		}, []int{1, 2, 10}, ""},
		{"other files ignored", fstest.MapFS{"m/0001_one.sql": file("one"), "m/README.md": file("x")}, []int{1}, ""},
		{"no underscore", fstest.MapFS{"m/0001.sql": file("x")}, nil, "name must be NNNN_description.sql"},
		{"bad version", fstest.MapFS{"m/abc_x.sql": file("x")}, nil, "bad version"},
		{"duplicate version", fstest.MapFS{"m/0001_a.sql": file("a"), "m/01_b.sql": file("b")}, nil, "share version 1"},
		{"missing folder", fstest.MapFS{}, nil, "while listing migrations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadMigrations(tc.fsys, "m")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d migrations, want %d", len(got), len(tc.want))
			}
			for i, m := range got {
				if m.Version != tc.want[i] || !strings.HasPrefix(m.Name, m.Name[:4]) || m.SQL == "" {
					t.Errorf("migration %d = %+v, want version %d", i, m, tc.want[i])
				}
			}
		})
	}
}
