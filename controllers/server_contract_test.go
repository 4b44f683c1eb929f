package controllers

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// TestRenderedConfigRunsTheServer is the contract between the operator and
// the server: the real memory-server binary, started the way the
// Deployment starts it (--config on the rendered ConfigMap content), comes
// up healthy and ready. Paths the pod gets from volumes (the SQLite file,
// the tokens file) and the listen address are moved to a temporary folder
// through the server's environment, which takes precedence over the file.
func TestRenderedConfigRunsTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/memory-server: skipped under -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "memory-server")
	build := exec.Command("go", "build", "-o", bin, "../cmd/memory-server")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building memory-server: %v\n%s", err, out)
	}

	ms := testMS(func(ms *mcpv1alpha1.MemoryServer) {
		sqlite(ms)
		ms.Spec.Auth = &mcpv1alpha1.AuthSpec{TokenSecretRef: mcpv1alpha1.SecretKeyRef{Name: "t", Key: "k"}}
		ms.Spec.Pool.MaxConnections = ptrTo(int32(4))
	})
	cm, err := desiredConfigMap(ms, desiredServerConfig(ms, serverConfigInput{}))
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, ConfigFileKey)
	if err := os.WriteFile(cfgFile, []byte(cm.Data[ConfigFileKey]), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, AuthTokensFile)
	if err := os.WriteFile(tokens, []byte("contract-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	desired := desiredDeployment(ms, deploymentInput{})
	cmd := exec.CommandContext(ctx, bin, desired.Spec.Template.Spec.Containers[0].Args...)
	// The Deployment's args name the mounted file; point them at ours.
	for i, a := range cmd.Args {
		if a == ConfigDir+"/"+ConfigFileKey {
			cmd.Args[i] = cfgFile
		}
	}
	cmd.Env = append(os.Environ(),
		"MEMORY_SERVER_LISTEN="+addr,
		"MEMORY_SERVER_SQLITE_PATH="+filepath.Join(dir, SQLiteFile),
		"MEMORY_SERVER_AUTH_TOKENS_FILE="+tokens,
	)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	get := func(path string, token string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, path := range []string{"/livez", "/readyz"} {
		for {
			code, err := get(path, "")
			if err == nil && code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never answered 200 (last: %d %v); server output:\n%s", path, code, err, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The tokens file is in force: the MCP endpoint refuses a request
	// without the token.
	code, err := get(EndpointPath(ms), "")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusUnauthorized {
		t.Errorf("GET %s without a token: %d, want 401; server output:\n%s", EndpointPath(ms), code, logs.String())
	}
}
