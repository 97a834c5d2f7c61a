// Package tokens counts tokens the way OpenAI models do, with tiktoken
// (cl100k_base, o200k_base) and its offline loader, so no vocabulary is ever
// downloaded at run time, and it keeps token budgets that stop a pipeline
// with a clear error when it would spend more than allowed.
//
// Encoders are loaded once per encoding, cached for the life of the process
// and safe for concurrent use. The package must not touch the network or
// emit spans: counting is called on hot paths by the stages that do trace.
package tokens
