package neo4j_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/memory-operator/memory-operator/server/store/neo4j"
	"github.com/memory-operator/memory-operator/server/store/neo4j/internal/boltstub"
)

// recorder is a testing.TB that records the stub's errors instead of
// failing the test, to check that the stub does fail a test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) has(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

// TestStubFailsOnUnexpectedMessages checks the checker: a query text or a
// parameter that differs from the script fails the test and the call.
func TestStubFailsOnUnexpectedMessages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []boltstub.Step
		want   string
	}{
		{"query text", tx(writeMeta, stmt{query: "MATCH (n) RETURN n", params: map[string]any{"count": 1}}), "RUN query differs"},
		{"parameters", tx(writeMeta, stmt{query: neo4j.QReserve, params: map[string]any{"count": 2}}), "RUN parameters differ"},
		{"metadata", tx(readMeta, stmt{query: neo4j.QReserve, params: map[string]any{"count": 1}}), "BEGIN metadata differ"},
		{"message", []boltstub.Step{boltstub.Commit()}, "expected COMMIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			srv := boltstub.Start(rec)
			cfg := testConfig(srv, t)
			srv.Expect(schemaSteps(cfg.QueryTimeout)...)
			st, err := neo4j.New(testContext(t), cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(func() { _ = st.Close() })
			srv.Expect(tc.script...)
			if _, err := callCreateOne(t, st); err == nil {
				t.Error("the call succeeded against a script it does not follow")
			}
			if !rec.has(tc.want) {
				t.Errorf("the stub did not report %q; it reported %q", tc.want, rec.errs)
			}
		})
	}
}
