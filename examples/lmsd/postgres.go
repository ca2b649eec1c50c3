package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/pgstore"
)

// pgFlags are the flags of -store postgres.
type pgFlags struct {
	dsn              string
	maxConns         int
	statementTimeout time.Duration
	callTimeout      time.Duration
}

func (p *pgFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.dsn, "dsn", "", "PostgreSQL DSN with -store postgres, a URL or key=value pairs (default: $LMS_DSN, else the PG* variables)")
	fs.IntVar(&p.maxConns, "pg-max-conns", 10, "most PostgreSQL connections (with -store postgres)")
	fs.DurationVar(&p.statementTimeout, "pg-statement-timeout", 30*time.Second, "longest PostgreSQL statement (with -store postgres)")
	fs.DurationVar(&p.callTimeout, "pg-call-timeout", pgstore.DefaultCallTimeout, "longest store call, measured by lmsd: a frozen or cut-off PostgreSQL fails calls after it (with -store postgres)")
}

// check completes the flags from the environment and validates them.
func (p *pgFlags) check(getenv func(string) string) error {
	if p.dsn == "" {
		p.dsn = getenv("LMS_DSN")
	}
	switch {
	case p.maxConns < 1 || p.maxConns > 1000:
		return fmt.Errorf("-pg-max-conns %d: want 1 to 1000", p.maxConns)
	case p.statementTimeout <= 0:
		return fmt.Errorf("-pg-statement-timeout %v: must be positive", p.statementTimeout)
	case p.callTimeout <= 0:
		return fmt.Errorf("-pg-call-timeout %v: must be positive", p.callTimeout)
	}
	return nil
}

// errPostgresSecret: the secret cannot be generated and kept beside a file,
// and every process sharing the database needs the same one. (Keeping it
// in the database would put the key of the sealed client passwords beside
// them.)
var errPostgresSecret = errors.New("-store postgres needs -admin-secret or $LMS_ADMIN_SECRET (the same for every lmsd sharing the database)")

// where names the server and database of the DSN, without credentials:
// host:port/database.
func (p *pgFlags) where() string {
	cfg, err := pgconn.ParseConfig(p.dsn)
	if err != nil {
		return "(bad DSN)"
	}
	host := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		host = fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	return host + "/" + cfg.Database
}

// openPostgres opens the database; the first process to open a fresh one
// creates the schema.
func openPostgres(ctx context.Context, p *pgFlags) (lms.Store, error) {
	return pgstore.Open(ctx, p.dsn, pgstore.Options{MaxConns: int32(p.maxConns), StatementTimeout: p.statementTimeout, CallTimeout: p.callTimeout})
}
