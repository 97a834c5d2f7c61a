// Package dispatchertest gives tests of instrumented code a dispatcher of
// their own with a recorder attached, so that parallel tests and packages
// never see each other's spans. It is test infrastructure; product code does
// not import it.
package dispatchertest
