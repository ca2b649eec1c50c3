package lms_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// TestAdmin: Engine.Admin checks the admin secret once; the Admin it returns
// acts without the secret, and the zero Admin refuses everything.
func TestAdmin(t *testing.T) {
	ctx := context.Background()
	e, err := lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker})
	require.NoError(t, err)

	_, err = e.Admin("not-the-secret")
	require.ErrorIs(t, err, lms.ErrUnauthorized)

	var zero lms.Admin
	_, err = zero.RegisterClient(ctx, lms.Registration{ID: "z", ContactEmail: "z@example.org", CallbackURL: "http://z.example/"})
	require.ErrorIs(t, err, lms.ErrUnauthorized)
	require.ErrorIs(t, zero.RemoveClient(ctx, "z"), lms.ErrUnauthorized)
	require.ErrorIs(t, zero.NewPassword(ctx, "z"), lms.ErrUnauthorized)
	cs, err := e.Clients(ctx)
	require.NoError(t, err)
	require.Empty(t, cs, "the zero Admin created nothing")

	adm, err := e.Admin(adminSecret)
	require.NoError(t, err)
	_, err = adm.RegisterClient(ctx, lms.Registration{ID: "a", ContactEmail: "a@example.org", CallbackURL: "http://a.example/"})
	require.NoError(t, err)

	_, err = adm.RegisterClient(ctx, lms.Registration{ID: "b", ContactEmail: "b@example.org", CallbackURL: "ftp://b.example/"})
	var in *lms.InputError
	require.True(t, errors.As(err, &in), "%v", err)
	require.Equal(t, "CallbackURL", in.Field)
	require.ErrorIs(t, err, lms.ErrInvalid)
	require.EqualError(t, err, `lms: register client "b": lms: invalid argument: callback URL "ftp://b.example/": want an http or https URL`, "the Engine's text is unchanged")

	require.NoError(t, adm.RemoveClient(ctx, "a"))
	_, err = e.Client(ctx, "a")
	require.ErrorIs(t, err, lms.ErrNotFound)
}
