package controllers_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestInvalidMemoryServersAreRefused sends invalid objects to the real API
// server and checks that the CRD's OpenAPI and CEL rules refuse each one with
// a message naming the field.
func TestInvalidMemoryServersAreRefused(t *testing.T) {
	requireEnvtest(t)
	ns := newNamespace(t)
	type invalidCase struct {
		name string
		spec string
		want []string // substrings of the error message
	}
	objNames := map[string]string{} // metadata.name by case; "bad" when absent
	cases := []invalidCase{
		{"postgres type without its block", `backend: {type: postgres}`,
			[]string{"spec.backend.postgres", "backend.type postgres requires backend.postgres"}},
		{"neo4j type with a postgres block", `backend: {type: neo4j, postgres: {external: {dsnSecretRef: {name: a, key: b}}}}`,
			[]string{"spec.backend.neo4j", "backend.type neo4j requires backend.neo4j"}},
		{"sqlite type with a postgres block", `backend: {type: sqlite, postgres: {managed: {}}}`,
			[]string{"spec.backend.sqlite", "allows only the backend.sqlite block"}},
		{"postgres managed and external", `backend: {type: postgres, postgres: {managed: {}, external: {dsnSecretRef: {name: a, key: b}}}}`,
			[]string{"spec.backend.postgres", "exactly one of managed or external"}},
		{"postgres neither managed nor external", `backend: {type: postgres, postgres: {}}`,
			[]string{"spec.backend.postgres", "exactly one of managed or external"}},
		{"neo4j managed and external", `backend: {type: neo4j, neo4j: {managed: {}, external: {uri: "neo4j://g:7687", authSecretRef: {name: a}}}}`,
			[]string{"spec.backend.neo4j", "exactly one of managed or external"}},
		{"unknown backend type", `backend: {type: mysql}`,
			[]string{"spec.backend.type", "Unsupported value"}},
		{"sqlite with two replicas", `{replicas: 2, backend: {type: sqlite}}`,
			[]string{"spec.replicas", "must be 0 or 1 when backend.type is sqlite"}},
		{"sqlite with autoscaling", `{autoscaling: {maxReplicas: 1}, backend: {type: sqlite}}`,
			[]string{"spec.autoscaling", "must not be set when backend.type is sqlite"}},
		{"minConnections above maxConnections", `{pool: {minConnections: 5, maxConnections: 2}, backend: {type: sqlite}}`,
			[]string{"spec.pool", "pool.minConnections must be less than or equal to pool.maxConnections"}},
		{"minReplicas above maxReplicas", `{autoscaling: {minReplicas: 4, maxReplicas: 2}, backend: {type: postgres, postgres: {managed: {}}}}`,
			[]string{"spec.autoscaling", "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"}},
		{"negative query timeout", `{pool: {queryTimeout: "-5s"}, backend: {type: sqlite}}`,
			[]string{"spec.pool.queryTimeout", "must be a positive duration"}},
		{"zero acquire timeout", `{pool: {acquireTimeout: "0s"}, backend: {type: sqlite}}`,
			[]string{"spec.pool.acquireTimeout", "must be a positive duration"}},
		{"malformed duration", `{pool: {healthCheckPeriod: "soon"}, backend: {type: sqlite}}`,
			[]string{"spec.pool.healthCheckPeriod"}},
		{"port out of range", `{port: 70000, backend: {type: sqlite}}`,
			[]string{"spec.port", "65535"}},
		{"negative replicas", `{replicas: -1, backend: {type: postgres, postgres: {managed: {}}}}`,
			[]string{"spec.replicas", "greater than or equal to 0"}},
		{"unknown transport", `{transport: stdio, backend: {type: sqlite}}`,
			[]string{"spec.transport", "Unsupported value"}},
		{"neo4j URI with an http scheme", `backend: {type: neo4j, neo4j: {external: {uri: "http://graph:7474", authSecretRef: {name: a}}}}`,
			[]string{"spec.backend.neo4j.external.uri"}},
		{"external postgres without a DSN Secret", `backend: {type: postgres, postgres: {external: {}}}`,
			[]string{"spec.backend.postgres.external.dsnSecretRef", "Required value"}},
		{"managed postgres with too few connections", `backend: {type: postgres, postgres: {managed: {maxConnections: 5}}}`,
			[]string{"spec.backend.postgres.managed.maxConnections", "greater than or equal to 10"}},
		{"CPU target above 100%", `{autoscaling: {maxReplicas: 3, targetCPUUtilizationPercentage: 150}, backend: {type: postgres, postgres: {managed: {}}}}`,
			[]string{"spec.autoscaling.targetCPUUtilizationPercentage", "less than or equal to 100"}},
		{"missing backend", `{replicas: 1}`,
			[]string{"spec.backend", "Required value"}},
		{"autoscaling without a CPU request", `{autoscaling: {maxReplicas: 3}, backend: {type: postgres, postgres: {managed: {}}}}`,
			[]string{"spec.autoscaling", "requires spec.resources.requests.cpu"}},
		{"autoscaling with only a memory request", `{autoscaling: {maxReplicas: 3}, resources: {requests: {memory: 64Mi}}, backend: {type: postgres, postgres: {managed: {}}}}`,
			[]string{"spec.autoscaling", "requires spec.resources.requests.cpu"}},
	}
	// metadata.name: a DNS-1035 label of at most 43 characters.
	for _, n := range []struct{ name, objName, want string }{
		{"name of 44 characters", strings.Repeat("a", 44), "metadata.name must be at most 43 characters"},
		{"name of 60 characters", "m" + strings.Repeat("x", 59), "metadata.name must be at most 43 characters"},
		{"name with a dot", "team.memory", "metadata.name must be a DNS-1035 label"},
		{"name starting with a digit", "9lives", "metadata.name must be a DNS-1035 label"},
	} {
		cases = append(cases, invalidCase{name: n.name, spec: `backend: {type: postgres, postgres: {managed: {}}}`, want: []string{n.want}})
		objNames[n.name] = n.objName
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := objNames[tc.name]
			if name == "" {
				name = "bad"
			}
			obj := memoryServerFromYAML(t, ns, name, tc.spec)
			err := suite.k8s.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted an invalid MemoryServer (%s)", tc.spec)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}

	t.Run("backend.type is immutable", func(t *testing.T) {
		obj := memoryServerFromYAML(t, ns, "fixed", `backend: {type: sqlite}`)
		if err := suite.k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		// The operator may update the object meanwhile (a finalizer): retry
		// on conflicts with a fresh copy.
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			if err = suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
				t.Fatal(err)
			}
			if err := unstructured.SetNestedMap(obj.Object, map[string]any{
				"type": "postgres", "postgres": map[string]any{"managed": map[string]any{}},
			}, "spec", "backend"); err != nil {
				t.Fatal(err)
			}
			if err = suite.k8s.Update(context.Background(), obj); !apierrors.IsConflict(err) {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), "spec.backend.type") || !strings.Contains(err.Error(), "backend.type is immutable") {
			t.Fatalf("changing backend.type: want refused naming spec.backend.type, got %v", err)
		}
	})

	t.Run("a 43-character name and autoscaling with a CPU request are accepted", func(t *testing.T) {
		obj := memoryServerFromYAML(t, ns, "a"+strings.Repeat("b", 41)+"c",
			`{autoscaling: {maxReplicas: 3}, resources: {requests: {cpu: 100m}}, backend: {type: postgres, postgres: {managed: {}}}}`)
		if err := suite.k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("autoscaling with only a CPU limit (the request defaults to it) is accepted", func(t *testing.T) {
		obj := memoryServerFromYAML(t, ns, "cpu-limit-only",
			`{autoscaling: {maxReplicas: 3}, resources: {limits: {cpu: 500m}}, backend: {type: postgres, postgres: {managed: {}}}}`)
		if err := suite.k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	})

	// Switching managed <-> external would leave the data behind: refused.
	for _, tc := range []struct {
		name, from, field string
		to                map[string]any
	}{
		{"postgres-m2e", `backend: {type: postgres, postgres: {managed: {}}}`, "postgres",
			map[string]any{"external": map[string]any{"dsnSecretRef": map[string]any{"name": "a", "key": "b"}}}},
		{"postgres-e2m", `backend: {type: postgres, postgres: {external: {dsnSecretRef: {name: a, key: b}}}}`, "postgres",
			map[string]any{"managed": map[string]any{}}},
		{"neo4j-m2e", `backend: {type: neo4j, neo4j: {managed: {}}}`, "neo4j",
			map[string]any{"external": map[string]any{"uri": "neo4j://g:7687", "authSecretRef": map[string]any{"name": "a"}}}},
		{"neo4j-e2m", `backend: {type: neo4j, neo4j: {external: {uri: "neo4j://g:7687", authSecretRef: {name: a}}}}`, "neo4j",
			map[string]any{"managed": map[string]any{}}},
	} {
		t.Run("switching "+tc.name+" is refused", func(t *testing.T) {
			obj := memoryServerFromYAML(t, ns, tc.name, tc.from)
			if err := suite.k8s.Create(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
			var err error
			for attempt := 0; attempt < 20; attempt++ {
				if err = suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
					t.Fatal(err)
				}
				if err := unstructured.SetNestedMap(obj.Object, tc.to, "spec", "backend", tc.field); err != nil {
					t.Fatal(err)
				}
				if err = suite.k8s.Update(context.Background(), obj); !apierrors.IsConflict(err) {
					break
				}
			}
			want := "backend." + tc.field + " cannot switch between managed and external"
			if err == nil || !strings.Contains(err.Error(), "spec.backend."+tc.field) || !strings.Contains(err.Error(), want) {
				t.Fatalf("want refused with %q naming spec.backend.%s, got %v", want, tc.field, err)
			}
		})
	}

	t.Run("valid objects get their defaults", func(t *testing.T) {
		obj := memoryServerFromYAML(t, ns, "defaults", `backend: {type: postgres, postgres: {managed: {}}}`)
		if err := suite.k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		spec := obj.Object["spec"].(map[string]any)
		managed := spec["backend"].(map[string]any)["postgres"].(map[string]any)["managed"].(map[string]any)
		if spec["replicas"] != int64(1) || spec["port"] != int64(8080) || spec["transport"] != "streamable-http" ||
			managed["image"] != "postgres:17" || managed["maxConnections"] != int64(100) {
			t.Errorf("defaults not applied: %v", spec)
		}
	})
}

func memoryServerFromYAML(tb testing.TB, ns, name, spec string) *unstructured.Unstructured {
	tb.Helper()
	var s map[string]any
	if err := yaml.Unmarshal([]byte(spec), &s); err != nil {
		tb.Fatalf("test spec %q: %v", spec, err)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mcp.memory.dev/v1alpha1",
		"kind":       "MemoryServer",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       s,
	}}
}
