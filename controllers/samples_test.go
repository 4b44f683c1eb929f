package controllers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// TestSamplesApply creates every object of config/samples on the real API
// server (as `kubectl apply -f config/samples/` would) and waits for each
// MemoryServer to be reconciled: a Deployment and a status with conditions.
func TestSamplesApply(t *testing.T) {
	requireEnvtest(t)
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ns := newNamespace(t)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var servers []string
			dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
			for {
				obj := &unstructured.Unstructured{}
				if err := dec.Decode(&obj.Object); err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					t.Fatalf("decoding %s: %v", file, err)
				}
				if len(obj.Object) == 0 || obj.GetKind() == "Kustomization" {
					continue
				}
				obj.SetNamespace(ns)
				if err := suite.k8s.Create(context.Background(), obj); err != nil {
					t.Fatalf("the API server refused %s %s from %s: %v", obj.GetKind(), obj.GetName(), file, err)
				}
				if obj.GetKind() == "MemoryServer" {
					servers = append(servers, obj.GetName())
				}
			}
			if len(servers) == 0 {
				t.Fatalf("%s holds no MemoryServer", file)
			}
			for _, name := range servers {
				waitDeployment(t, ns, name)
				eventually(t, "status of "+name, func(ctx context.Context) error {
					ms, err := getMS(ctx, ns, name)
					if err != nil {
						return err
					}
					if ms.Status.ObservedGeneration != ms.Generation || ms.Status.Phase == "" {
						return fmt.Errorf("not reconciled: %+v", ms.Status)
					}
					for _, c := range []string{mcpv1alpha1.ConditionReady, mcpv1alpha1.ConditionBackendReady,
						mcpv1alpha1.ConditionServerAvailable, mcpv1alpha1.ConditionConnectionBudget, mcpv1alpha1.ConditionProgressing} {
						if meta.FindStatusCondition(ms.Status.Conditions, c) == nil {
							return fmt.Errorf("condition %s missing", c)
						}
					}
					return nil
				})
			}
		})
	}
}
