-- One fixed request (the URL given to wrk, with any -H headers), repeated.
require "stats"
