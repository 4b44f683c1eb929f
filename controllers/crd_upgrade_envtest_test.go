package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// TestNameRulesDoNotLockExistingObjects installs a CRD without the
// metadata.name rules (as before they existed) on an API server of its own,
// stores a MemoryServer whose name the rules refuse, upgrades the CRD to the
// generated one, and checks that the stored object can still take the
// operator's finalizer-removal and status patches, while a new object of
// such a name is refused.
func TestNameRulesDoNotLockExistingObjects(t *testing.T) {
	requireEnvtest(t)
	data, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", "mcp.memory.dev_memoryservers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var current apiextv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &current); err != nil {
		t.Fatal(err)
	}
	old := current.DeepCopy()
	root := old.Spec.Versions[0].Schema.OpenAPIV3Schema
	var kept apiextv1.ValidationRules
	for _, r := range root.XValidations {
		if !strings.Contains(r.Rule, "metadata.name") {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(root.XValidations) {
		t.Fatal("the generated CRD has no metadata.name rule at its root: this test checks nothing")
	}
	root.XValidations = kept

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := mcpv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{CRDs: []*apiextv1.CustomResourceDefinition{old}, Scheme: scheme}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting a second envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	long := strings.Repeat("a", 50)
	legacy := sqliteServer("default", long)
	legacy.Finalizers = []string{mcpv1alpha1.GroupVersion.Group + "/test"}
	if err := c.Create(ctx, legacy); err != nil {
		t.Fatalf("creating %s under the old CRD: %v", long, err)
	}

	var crd apiextv1.CustomResourceDefinition
	if err := c.Get(ctx, types.NamespacedName{Name: current.Name}, &crd); err != nil {
		t.Fatal(err)
	}
	crd.Spec = current.Spec
	if err := c.Update(ctx, &crd); err != nil {
		t.Fatalf("upgrading the CRD: %v", err)
	}
	// The API server takes the new schema asynchronously: wait until a new
	// object with a long name is refused, then check the stored one.
	eventually(t, "the upgraded CRD refuses new long names", func(ctx context.Context) error {
		err := c.Create(ctx, sqliteServer("default", strings.Repeat("b", 50)))
		if err == nil {
			_ = c.Delete(ctx, sqliteServer("default", strings.Repeat("b", 50)))
			return fmt.Errorf("a 50-character name was accepted")
		}
		if !strings.Contains(err.Error(), "metadata.name must be at most 43 characters") {
			return fmt.Errorf("refused for another reason: %w", err)
		}
		return nil
	})

	status := client.RawPatch(types.MergePatchType, []byte(`{"status":{"phase":"Pending"}}`))
	if err := c.Status().Patch(ctx, legacy, status); err != nil {
		t.Errorf("status patch of the stored object: %v", err)
	}
	unfinalize := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	if err := c.Patch(ctx, legacy, unfinalize); err != nil {
		t.Errorf("finalizer removal of the stored object: %v", err)
	}
	if err := c.Delete(ctx, legacy); err != nil {
		t.Errorf("deleting the stored object: %v", err)
	}
}
