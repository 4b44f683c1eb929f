package app

import (
	"runtime/debug"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123"}}
	dirty := append(append([]debug.BuildSetting{}, rev...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	clean := append(append([]debug.BuildSetting{}, rev...), debug.BuildSetting{Key: "vcs.modified", Value: "false"})
	tests := []struct {
		name string
		v    string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"set at build time wins", "1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, true, "1.4.0"},
		{"no build info", "dev", nil, false, "dev"},
		{"module version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: rev}, true, "v1.2.3"},
		{"devel with a revision", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: clean}, true, "0123456789ab"},
		{"devel with uncommitted changes", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: dirty}, true, "0123456789ab-dirty"},
		{"devel without VCS", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev"},
		{"empty Version is dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, true, "v0.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionFrom(tt.v, tt.info, tt.ok); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
