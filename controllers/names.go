package controllers

import (
	mcpv1alpha1 "github.com/memory-operator/memory-operator/api/v1alpha1"
)

// Names of the children of a MemoryServer (DESIGN section 3). Every builder
// and every test uses these, so a name is spelled in exactly one place.

// ConfigMapName is the server configuration's ConfigMap.
func ConfigMapName(ms *mcpv1alpha1.MemoryServer) string { return ms.Name + "-config" }

// ServerName names the Deployment, Service, PodDisruptionBudget and
// HorizontalPodAutoscaler of the server.
func ServerName(ms *mcpv1alpha1.MemoryServer) string { return ms.Name }

// SQLitePVCName is the claim holding the SQLite file.
func SQLitePVCName(ms *mcpv1alpha1.MemoryServer) string { return ms.Name + "-data" }

// DatabaseName names the managed database's StatefulSet and client Service:
// <name>-postgres or <name>-neo4j.
func DatabaseName(ms *mcpv1alpha1.MemoryServer) string {
	return ms.Name + "-" + string(ms.Spec.Backend.Type)
}

// DatabaseHeadlessName is the governing (headless) Service of the managed
// database's StatefulSet.
func DatabaseHeadlessName(ms *mcpv1alpha1.MemoryServer) string {
	return DatabaseName(ms) + "-headless"
}

// CredentialsSecretName holds the managed database's generated credentials.
func CredentialsSecretName(ms *mcpv1alpha1.MemoryServer) string {
	return DatabaseName(ms) + "-credentials"
}

// Labels are the labels on every child of ms of the given component
// (mcpv1alpha1.ComponentServer or ComponentDatabase).
func Labels(ms *mcpv1alpha1.MemoryServer, component string) map[string]string {
	l := SelectorLabels(ms, component)
	l[mcpv1alpha1.LabelManagedBy] = mcpv1alpha1.LabelManagedByValue
	return l
}

// SelectorLabels select the pods of one component of ms. They are a subset
// of Labels and never change over an object's life (selectors are immutable).
func SelectorLabels(ms *mcpv1alpha1.MemoryServer, component string) map[string]string {
	return map[string]string{
		mcpv1alpha1.LabelName:      mcpv1alpha1.LabelNameValue,
		mcpv1alpha1.LabelInstance:  ms.Name,
		mcpv1alpha1.LabelComponent: component,
	}
}
