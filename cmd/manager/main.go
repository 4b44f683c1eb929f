// Command manager runs the memory operator: the MemoryServer controller.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
	"github.com/memory-operator/memory-operator/controllers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

// run parses flags, builds the manager with the MemoryServer reconciler and
// runs it until SIGTERM or SIGINT.
func run(args []string) error {
	// flag.CommandLine also holds controller-runtime's --kubeconfig.
	fs := flag.CommandLine
	metricsAddr := fs.String("metrics-bind-address", ":8443", "address of the metrics endpoint; 0 disables it")
	metricsSecure := fs.Bool("metrics-secure", true, "serve metrics over HTTPS, only to callers the API server authenticates "+
		"(TokenReview) and authorizes (SubjectAccessReview, get on /metrics); false serves plain HTTP to anyone, for local runs")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader so that only one manager reconciles at a time")
	watchNamespace := fs.String("watch-namespace", "", "comma-separated namespaces to watch; empty watches all")
	workers := fs.Int("max-concurrent-reconciles", 4, "how many MemoryServers are reconciled at once")
	image := fs.String("memory-server-image", controllers.DefaultMemoryServerImage, "memory-server image for MemoryServers without spec.image")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	logger := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(mcpv1alpha1.AddToScheme(scheme))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("while loading the kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOptions(*metricsAddr, *metricsSecure),
		HealthProbeBindAddress: *probeAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       "memory-operator.mcp.memory.dev",
		Cache: cache.Options{
			DefaultNamespaces: namespaces(*watchNamespace),
			// The operator never reads managedFields: not caching them
			// saves memory on every watched object (Secrets included).
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	})
	if err != nil {
		return fmt.Errorf("while creating the manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	if err := (&controllers.MemoryServerReconciler{
		Client:       mgr.GetClient(),
		Scheme:       mgr.GetScheme(),
		DefaultImage: *image,

		MaxConcurrentReconciles: *workers,
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("while setting up the MemoryServer controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("while adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("while adding the readiness check: %w", err)
	}
	logger.Info("starting the manager", "watchNamespace", *watchNamespace, "memoryServerImage", *image, "leaderElect", *leaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("while running the manager: %w", err)
	}
	return nil
}

// metricsOptions is the manager's metrics endpoint: by default over HTTPS
// (a self-signed certificate unless one is mounted), and only for callers
// the API server authenticates and authorizes (kubebuilder's default; the
// operator's role may create TokenReviews and SubjectAccessReviews, see
// config/rbac/metrics_auth_role.yaml). secure false serves plain HTTP, for
// `make run` against a local control plane.
func metricsOptions(addr string, secure bool) metricsserver.Options {
	if !secure {
		return metricsserver.Options{BindAddress: addr}
	}
	return metricsserver.Options{
		BindAddress:    addr,
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
		// HTTP/1.1 only, as kubebuilder's default: HTTP/2's stream reset
		// and cancellation floods (CVE-2023-44487, CVE-2023-39325) are
		// not worth a metrics endpoint.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
}

// namespaces turns the --watch-namespace list into the cache's
// DefaultNamespaces; nil (all namespaces) when the list is empty.
func namespaces(list string) map[string]cache.Config {
	var m map[string]cache.Config
	for _, ns := range strings.Split(list, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			if m == nil {
				m = map[string]cache.Config{}
			}
			m[ns] = cache.Config{}
		}
	}
	return m
}
