package controllers

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// Credentials of managed databases. The password is generated once with
// crypto/rand into <name>-postgres-credentials or <name>-neo4j-credentials
// and never rewritten: the database keeps the password it was initialised
// with, so a new one would lock the servers out. It is never logged, never
// copied into status, events, ConfigMaps or flags; pods read it through
// secretKeyRef env vars.

// Keys of a managed database's credentials Secret.
const (
	// CredentialsKeyUsername holds the database user.
	CredentialsKeyUsername = "username"
	// CredentialsKeyPassword holds the generated password.
	CredentialsKeyPassword = "password"
	// CredentialsKeyDatabase holds the PostgreSQL database name.
	CredentialsKeyDatabase = "database"
	// CredentialsKeyDSN holds the PostgreSQL URL the server pods use.
	CredentialsKeyDSN = "dsn"
	// CredentialsKeyAuth holds Neo4j's NEO4J_AUTH value, neo4j/<password>.
	CredentialsKeyAuth = "auth"
)

// credentialsPasswordBytes is the entropy of a generated password: 256 bits.
const credentialsPasswordBytes = 32

// generatePassword returns a new random password: 32 bytes from
// crypto/rand, base64url without padding (43 characters of A-Z a-z 0-9 - _,
// safe unescaped in a URL, a shell word and NEO4J_AUTH).
func generatePassword() (string, error) {
	return generatePasswordFrom(rand.Reader)
}

// generatePasswordFrom is generatePassword reading from r.
func generatePasswordFrom(r io.Reader) (string, error) {
	b := make([]byte, credentialsPasswordBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("while generating a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// credentialsSecretShell is the metadata of a credentials Secret.
func credentialsSecretShell(ms *mcpv1alpha1.MemoryServer) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      CredentialsSecretName(ms),
			Namespace: ms.Namespace,
			Labels:    Labels(ms, mcpv1alpha1.ComponentDatabase),
		},
		Type: corev1.SecretTypeOpaque,
		// Immutable: the API server itself refuses to rewrite the password.
		Immutable: ptr.To(true),
	}
}

// ManagedPostgresDSN is the URL of the managed PostgreSQL for password.
func ManagedPostgresDSN(ms *mcpv1alpha1.MemoryServer, password string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(ManagedPostgresUser, password),
		Host:     ManagedHost(ms) + ":" + strconv.Itoa(int(ManagedPostgresPort)),
		Path:     "/" + ManagedPostgresDatabase,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// desiredPostgresCredentials is the managed PostgreSQL's credentials
// Secret for a freshly generated password.
func desiredPostgresCredentials(ms *mcpv1alpha1.MemoryServer, password string) *corev1.Secret {
	s := credentialsSecretShell(ms)
	s.Data = map[string][]byte{
		CredentialsKeyUsername: []byte(ManagedPostgresUser),
		CredentialsKeyPassword: []byte(password),
		CredentialsKeyDatabase: []byte(ManagedPostgresDatabase),
		CredentialsKeyDSN:      []byte(ManagedPostgresDSN(ms, password)),
	}
	return s
}

// desiredNeo4jCredentials is the managed Neo4j's credentials Secret for a
// freshly generated password.
func desiredNeo4jCredentials(ms *mcpv1alpha1.MemoryServer, password string) *corev1.Secret {
	s := credentialsSecretShell(ms)
	s.Data = map[string][]byte{
		CredentialsKeyUsername: []byte(ManagedNeo4jUser),
		CredentialsKeyPassword: []byte(password),
		CredentialsKeyAuth:     []byte(ManagedNeo4jUser + "/" + password),
	}
	return s
}

// credentialsDesired is the credentials Secret of ms's managed database.
func credentialsDesired(ms *mcpv1alpha1.MemoryServer, password string) *corev1.Secret {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return desiredNeo4jCredentials(ms, password)
	}
	return desiredPostgresCredentials(ms, password)
}

// credentialsRequiredKeys are the keys the managed database and the
// server pods read from the credentials Secret.
func credentialsRequiredKeys(ms *mcpv1alpha1.MemoryServer) []string {
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return []string{CredentialsKeyUsername, CredentialsKeyPassword, CredentialsKeyAuth}
	}
	return []string{CredentialsKeyUsername, CredentialsKeyPassword, CredentialsKeyDatabase, CredentialsKeyDSN}
}

// credentialsMissingKey returns the first required key absent or empty in
// s, "" when all are there.
func credentialsMissingKey(ms *mcpv1alpha1.MemoryServer, s *corev1.Secret) string {
	for _, k := range credentialsRequiredKeys(ms) {
		if len(s.Data[k]) == 0 {
			return k
		}
	}
	return ""
}

// ManagedServerEnv are the env vars of the server container that carry the
// managed database's credentials, all by secretKeyRef (nil when ms has no
// managed database). The Neo4j URI is not secret: it goes into the config
// file (ManagedNeo4jURI).
func ManagedServerEnv(ms *mcpv1alpha1.MemoryServer) []corev1.EnvVar {
	if !ManagedIsManaged(ms) {
		return nil
	}
	if ms.Spec.Backend.Type == mcpv1alpha1.BackendNeo4j {
		return []corev1.EnvVar{
			managedSecretEnv(ms, "MEMORY_SERVER_NEO4J_USERNAME", CredentialsKeyUsername),
			managedSecretEnv(ms, "MEMORY_SERVER_NEO4J_PASSWORD", CredentialsKeyPassword),
		}
	}
	return []corev1.EnvVar{managedSecretEnv(ms, "MEMORY_SERVER_POSTGRES_DSN", CredentialsKeyDSN)}
}

// errInvalidDSN is wrapped by every error of
// credentialsValidatePostgresDSN.
var errInvalidDSN = errors.New("not a PostgreSQL URL")

// credentialsValidatePostgresDSN checks that value (the content of key in
// Secret secret) is a PostgreSQL URL: postgres:// or postgresql://, a host,
// and parameters pgx accepts, and returns the (first) host it names: the
// host name or socket folder only, never the user, password or port. The
// error names the Secret and key and says what is wrong, never the value or
// any part of it (url and pgconn errors, which quote their input, are not
// wrapped).
func credentialsValidatePostgresDSN(secret, key string, value []byte) (host string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("key %q of Secret %q is %w (postgres://user:password@host:5432/db?sslmode=require): %s",
			key, secret, errInvalidDSN, why)
	}
	if len(value) == 0 {
		return "", bad("it is empty")
	}
	u, err := url.Parse(string(value))
	if err != nil {
		return "", bad("it does not parse as a URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", bad("the scheme must be postgres:// or postgresql://")
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return "", bad("it names no host")
	}
	cfg, err := pgconn.ParseConfig(string(value))
	if err != nil {
		return "", bad("its parameters are not valid for PostgreSQL (check sslmode, port and options)")
	}
	return cfg.Host, nil
}
