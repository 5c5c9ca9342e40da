package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// outputFlag adds -o text|json to cmd and returns where its value lands.
func outputFlag(cmd *cobra.Command) *string {
	var output string
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return &output
}

// checkOutput rejects an -o value other than text or json, before any
// request is made.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageError{fmt.Errorf("-o %q: want text or json", output)}
	}
	return nil
}

// render writes v as indented JSON (the API's schema) for -o json, else as
// text writes it for a person.
func render(w io.Writer, output string, v any, text func(io.Writer) error) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return text(w)
}
