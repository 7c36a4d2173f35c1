package controller

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// dbResult is what the database step hands to the workloads step.
type dbResult struct {
	// secretData is the workloads' database Secret as written, or nil when
	// the step did not get that far.
	secretData map[string][]byte
}

// reconcileDatabase ensures the community's PostgreSQL role and database
// (one database for every service of the community; each service keeps
// its own tables), created with the admin credentials of the referenced
// Secret, and writes the role's credentials to the Secret the workloads
// read. The password lives only in that Secret: when it is missing it is
// generated again and set on the role.
func (r *CommunityReconciler) reconcileDatabase(ctx context.Context, c *kinshipv1alpha1.Community, nsReady bool, st *statusBuilder) dbResult {
	const cond = kinshipv1alpha1.ConditionDatabaseReady
	if !nsReady {
		st.waiting(cond, "WaitingForNamespace", "the credentials Secret needs the instance namespace")
		return dbResult{}
	}
	admin, err := r.adminURL(ctx, c)
	if err != nil {
		st.fail(cond, reasonFor(err, "AdminSecretUnavailable"), err)
		return dbResult{}
	}
	dbName, role := resources.DatabaseName(c), resources.DatabaseRole(c)
	state, err := r.Postgres.Describe(ctx, admin.String(), dbName, role)
	if err != nil {
		st.fail(cond, "DatabaseUnreachable", err)
		return dbResult{}
	}

	var existing corev1.Secret
	password := ""
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: resources.Namespace(c), Name: resources.DatabaseSecretName(c)}, &existing); err == nil {
		password = passwordIn(string(existing.Data["url"]), admin, role, dbName)
	}
	switch {
	case !state.RoleExists:
		if password == "" {
			if password, err = r.newPassword(); err != nil {
				st.fail(cond, "RoleCreateFailed", err)
				return dbResult{}
			}
		}
		if err := r.Postgres.CreateRole(ctx, admin.String(), role, password); err != nil {
			st.fail(cond, "RoleCreateFailed", err)
			return dbResult{}
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "RoleCreated", "Reconcile", "created PostgreSQL role %s", role)
	case password == "":
		// The role outlived its credentials (Retain, or the Secret was
		// deleted): give it a new password.
		if password, err = r.newPassword(); err != nil {
			st.fail(cond, "PasswordSetFailed", err)
			return dbResult{}
		}
		if err := r.Postgres.SetPassword(ctx, admin.String(), role, password); err != nil {
			st.fail(cond, "PasswordSetFailed", err)
			return dbResult{}
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "CredentialsIssued", "Reconcile", "issued new credentials for PostgreSQL role %s", role)
	}
	if !state.DatabaseExists {
		if err := r.Postgres.CreateDatabase(ctx, admin.String(), dbName, role); err != nil {
			st.fail(cond, "DatabaseCreateFailed", err)
			return dbResult{}
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "DatabaseCreated", "Reconcile", "created PostgreSQL database %s", dbName)
	}

	secret := resources.BuildDatabaseSecret(c, workloadURL(admin, role, password, dbName))
	if _, err := r.apply(ctx, c, secret); err != nil {
		st.fail(cond, reasonApplyFailed, err)
		return dbResult{}
	}
	st.ok(cond, "Provisioned", fmt.Sprintf("database %s and role %s exist; the workloads' credentials are in secret %s",
		dbName, role, resources.DatabaseSecretName(c)))
	return dbResult{secretData: secret.Data}
}

// adminURL reads and checks the admin URL of the referenced Secret. Errors
// never quote the URL, which holds a password.
func (r *CommunityReconciler) adminURL(ctx context.Context, c *kinshipv1alpha1.Community) (*url.URL, error) {
	ref := secretRef{"spec.database.adminSecretRef", c.Spec.Database.AdminSecretRef}
	data, err := r.readSecretKeys(ctx, c, ref, "url")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(data["url"])
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Hostname() == "" {
		return nil, errors.New(ref.field + ": key url of secret " + ref.Name + " is not a postgres:// URL")
	}
	return u, nil
}

// workloadURL is the admin URL with the community's role, password and
// database; host, port and options such as sslmode stay.
func workloadURL(admin *url.URL, role, password, database string) string {
	u := *admin
	u.User = url.UserPassword(role, password)
	u.Path, u.RawPath = "/"+database, ""
	return u.String()
}

// passwordIn returns the password of a workload URL that still names the
// admin URL's server, role and database, or "".
func passwordIn(raw string, admin *url.URL, role, database string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.User.Username() != role || u.Host != admin.Host || u.Path != "/"+database {
		return ""
	}
	p, _ := u.User.Password()
	return p
}
