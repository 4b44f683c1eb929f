package controllers_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

// testImage is the operator's --memory-server-image in these tests.
const testImage = "example.test/memory-server:test"

// suite is the shared envtest environment: a real kube-apiserver and etcd
// with the CRDs of config/crd/bases, and a manager running the reconciler.
var suite struct {
	env      *envtest.Environment
	k8s      client.Client // direct: no cache, so assertions see the API server
	scheme   *runtime.Scheme
	startErr error
	ns       atomic.Int64
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if testing.Short() || os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return m.Run()
	}
	logf.SetLogger(zap.New(zap.WriteTo(logSink()), zap.UseDevMode(true)))
	stop, err := startEnvtest()
	if err != nil {
		suite.startErr = err
		return m.Run()
	}
	defer stop()
	return m.Run()
}

// logSink sends the operator's logs to a file (OPERATOR_TEST_LOG) or away.
func logSink() *os.File {
	if p := os.Getenv("OPERATOR_TEST_LOG"); p != "" {
		if f, err := os.Create(p); err == nil {
			return f
		}
	}
	f, _ := os.Open(os.DevNull)
	return f
}

func startEnvtest() (func(), error) {
	suite.scheme = runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(suite.scheme))
	utilruntime.Must(mcpv1alpha1.AddToScheme(suite.scheme))
	suite.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                suite.scheme,
	}
	// Room for the benchmarks' hundreds of ClusterIP Services: envtest's
	// default range, a /24, holds only 254 (200 managed fleets need 400).
	suite.env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	cfg, err := suite.env.Start()
	if err != nil {
		return nil, fmt.Errorf("while starting envtest from KUBEBUILDER_ASSETS=%s: %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	// Many objects are created at once in the benchmark.
	cfg.QPS, cfg.Burst = 200, 400
	suite.k8s, err = client.New(cfg, client.Options{Scheme: suite.scheme})
	if err != nil {
		_ = suite.env.Stop()
		return nil, fmt.Errorf("while creating the test client: %w", err)
	}
	// The manager runs as a user holding only the generated ClusterRole
	// (config/rbac/role.yaml), so the tests also prove the RBAC markers
	// grant everything the reconciler does, and nothing is done without it.
	opCfg, err := operatorConfig(cfg)
	if err != nil {
		_ = suite.env.Stop()
		return nil, err
	}
	mgr, err := ctrl.NewManager(opCfg, ctrl.Options{
		Scheme:                 suite.scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		_ = suite.env.Stop()
		return nil, fmt.Errorf("while creating the manager: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := (&controllers.MemoryServerReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), DefaultImage: testImage,
		MaxConcurrentReconciles: testWorkers(),
	}).SetupWithManager(ctx, mgr); err != nil {
		cancel()
		_ = suite.env.Stop()
		return nil, fmt.Errorf("while setting up the reconciler: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
		if err := suite.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "envtest stop:", err)
		}
	}, nil
}

// testWorkers is the reconciler's concurrency in the tests
// (OPERATOR_TEST_WORKERS, default 4 like the manager's flag).
func testWorkers() int {
	if v, err := strconv.Atoi(os.Getenv("OPERATOR_TEST_WORKERS")); err == nil && v > 0 {
		return v
	}
	return 4
}

// operatorUser is the identity the tests' manager runs as.
const operatorUser = "system:serviceaccount:memory-operator-system:memory-operator-controller-manager"

// operatorConfig creates the generated ClusterRole, binds it to
// operatorUser and returns a rest.Config authenticated as that user.
func operatorConfig(admin *rest.Config) (*rest.Config, error) {
	data, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, fmt.Errorf("while reading the generated role: %w", err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		return nil, fmt.Errorf("while parsing config/rbac/role.yaml: %w", err)
	}
	ctx := context.Background()
	if err := suite.k8s.Create(ctx, role); err != nil {
		return nil, fmt.Errorf("while creating the ClusterRole: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "memory-operator-test"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: operatorUser}},
	}
	if err := suite.k8s.Create(ctx, binding); err != nil {
		return nil, fmt.Errorf("while binding the ClusterRole: %w", err)
	}
	user, err := suite.env.AddUser(envtest.User{Name: operatorUser}, admin)
	if err != nil {
		return nil, fmt.Errorf("while adding the operator's user: %w", err)
	}
	c := user.Config()
	c.QPS, c.Burst = admin.QPS, admin.Burst
	return c, nil
}

// requireEnvtest skips a test under -short, and without envtest assets
// skips it (or fails it when CI is set).
func requireEnvtest(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("envtest test: skipped under -short")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		msg := "KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)"
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	if suite.startErr != nil {
		tb.Fatalf("envtest did not start: %v", suite.startErr)
	}
}

// newNamespace creates a fresh namespace for one test.
func newNamespace(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d-%s", suite.ns.Add(1), strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(tb.Name())))
	if len(name) > 63 {
		name = name[:63]
	}
	name = strings.TrimRight(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := suite.k8s.Create(context.Background(), ns); err != nil {
		tb.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// eventually retries check until it returns nil or the timeout passes, then
// fails with the last error. A correctness wait, not a timing assertion.
func eventually(tb testing.TB, what string, check func(ctx context.Context) error) {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for {
		if err = check(ctx); err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still failing after 30s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// childWrites sums the operator's child-writes counter.
func childWrites(tb testing.TB) float64 {
	tb.Helper()
	return sumMetric(tb, controllers.ChildWritesMetric, nil)
}

// reconciles counts the MemoryServer controller's reconciles.
func reconciles(tb testing.TB) float64 {
	tb.Helper()
	return sumMetric(tb, "controller_runtime_reconcile_total", map[string]string{"controller": controllers.ControllerName})
}

func sumMetric(tb testing.TB, name string, match map[string]string) float64 {
	tb.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		tb.Fatalf("gathering metrics: %v", err)
	}
	var total float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelsMatch(m, match) {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func labelsMatch(m *dto.Metric, match map[string]string) bool {
	for k, v := range match {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
