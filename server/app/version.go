package app

import "runtime/debug"

// effectiveVersion is Version unless it is still "dev" (no -ldflags -X),
// in which case the build info answers: the main module's version when it
// was built from a module version (go install ...@v1.2.3), else the VCS
// revision Go stamps into binaries built in a checkout (first 12 hex
// digits, "-dirty" with uncommitted changes), else "dev".
func effectiveVersion() string {
	info, ok := debug.ReadBuildInfo()
	return versionFrom(Version, info, ok)
}

func versionFrom(v string, info *debug.BuildInfo, ok bool) string {
	if v != "" && v != "dev" {
		return v
	}
	if !ok || info == nil {
		return "dev"
	}
	if mv := info.Main.Version; mv != "" && mv != "(devel)" {
		return mv
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
