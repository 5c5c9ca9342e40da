package main

import (
	"fmt"
	"io"

	"xlb/config"
)

// checkConfig is `xlbd -t`: it reads the configuration, prints warnings and
// errors as FILE:LINE:COL: message, and needs no root, interface or bpffs.
func checkConfig(stderr io.Writer, path string) error {
	_, warnings, err := loadConfig(stderr, path)
	if err != nil {
		return errExit(1)
	}
	fmt.Fprintf(stderr, "%s: configuration valid (%d warnings)\n", path, len(warnings))
	return nil
}

// loadConfig reads path and prints every diagnostic to w, one per line.
func loadConfig(w io.Writer, path string) (*config.Config, []config.Diagnostic, error) {
	cfg, warnings, err := config.Load(path)
	for _, d := range warnings {
		fmt.Fprintf(w, "%s: warning: %s\n", d.Pos, d.Msg)
	}
	if err != nil {
		fmt.Fprintln(w, err)
		return nil, warnings, err
	}
	return cfg, warnings, nil
}
