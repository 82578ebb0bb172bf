package paycenter

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter/handlers"
)

// Handler returns an [http.Handler] that serves everything Mount registers
// (the API, the channels' callbacks and, in sandbox mode, the sandbox
// cashier and its buttons), for hosts on net/http, chi, echo or any router
// that takes an http.Handler.
//
// It serves the paths under Config.BasePath, as the router received them:
// route every request whose path starts with BasePath + "/" to it,
// unchanged. Do not strip the prefix (http.StripPrefix): the path a request
// was sent to, prefix included, is part of its signature. With BasePath
// "/pay":
//
//	mux.Handle("/pay/", pc.Handler())               // net/http
//	r.Mount("/pay", pc.Handler())                   // chi
//	e.Any("/pay/*", echo.WrapHandler(pc.Handler())) // echo
//
// and the merchants' clients use PublicURL + "/pay" as their base URL. Every
// URL the pay center hands out (the channels' notify URLs, the sandbox
// cashier and where its buttons post) is PublicURL + BasePath + route, so it
// reaches this handler.
//
// Handler does not start the background workers (webhook and after-commit
// hook delivery, expiry, active queries, refund sync), unlike Mount: start
// them with Start once the server can take requests, since their webhooks
// may go to that same server; Stop or Close stops them. Keeping Handler
// free of side effects also lets a host build it more than once: each call
// returns a new handler over the same pay center.
//
// Serve a pay center either through Handler or through Mount on a router
// group, not both: Mount on a group moves every URL under the group's path,
// which Handler does not serve, and Handler panics if that happened. The
// handler is a Gin engine; in Gin's debug mode (its default) Gin prints the
// routes when it is built: set GIN_MODE=release to silence it.
func (pc *PayCenter) Handler() http.Handler {
	if mounted := pc.svc.Path(""); mounted != pc.cfg.BasePath {
		panic(fmt.Sprintf("paycenter: Handler serves %q, but Mount on a router group put the pay center's URLs under %q; "+
			"serve it one way only", pc.cfg.BasePath+"/", mounted+"/"))
	}
	e := gin.New()
	handlers.Register(e, pc.svc, handlers.Options{BasePath: pc.cfg.BasePath, Sandbox: pc.sandbox != nil})
	return e
}
