package main

import (
	"errors"
	"flag"
	"io"
	"os"

	"github.com/minfin-kz/kopir/internal/app"
	"github.com/minfin-kz/kopir/internal/config"
)

// openAPI prints the OpenAPI document of a config's internal or admin
// listener, as the bus serves it at /openapi.json to a caller allowed
// every route; docs/ keeps the ones of deploy/local.yaml.
func openAPI(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	path := fs.String("config", envOr("KOPIR_CONFIG", "deploy/local.yaml"), "config file")
	listener := fs.String("listener", "internal", "internal or admin")
	file := fs.String("o", "", "write the document to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("usage: kopir openapi [-config FILE] [-listener internal|admin] [-o FILE]")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	doc, err := app.OpenAPI(cfg, *listener)
	if err != nil {
		return err
	}
	if *file != "" {
		return os.WriteFile(*file, doc, 0o644)
	}
	_, err = out.Write(doc)
	return err
}
