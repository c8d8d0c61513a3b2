// Package kubectli18n makes kubectl's message translations load only in processes that run
// kubectl. kubectl's packages translate their help texts while they initialise, which costs the
// server and agent about 170 ms of start-up and tens of megabytes of touched binary pages for
// strings they never print. Import it (blank) from main, before anything that imports kubectl.
package kubectli18n
