package softfail

import "strings"

// The phrase tables, written already normalised (see appendNorm: lower
// case, no accents, apostrophes kept inside words) in English, German,
// French, Spanish, Italian and Dutch. They are read-only after package
// initialisation; a test checks each one is in normal form.

// notFoundCores are the statements that make a title segment or a heading a
// "not found" page when nothing but fillers surrounds them.
var notFoundCores = fields(
	// English
	"not found", "page not found", "file not found", "page missing",
	"can't be found", "cannot be found", "could not be found", "couldn't be found", "can not be found",
	"can't find", "cannot find", "couldn't find", "could not find", "can not find",
	"doesn't exist", "does not exist", "no longer exists", "not exist", "does not seem to exist",
	"doesn't seem to exist", "doesn't appear to exist", "does not appear to exist",
	"isn't here", "is not here", "nothing here",
	"been removed", "is no longer available", "are lost", "you're lost", "not be found",
	"went missing",
	// German
	"nicht gefunden", "seite nicht gefunden", "nicht gefunden werden", "wurde nicht gefunden",
	"konnte nicht gefunden werden", "existiert nicht", "existiert nicht mehr", "gibt es nicht",
	"gibt es nicht mehr", "nicht auffindbar",
	// French
	"introuvable", "page introuvable", "n'existe pas", "n'existe plus", "non trouvee",
	"page non trouvee", "pas ete trouvee", "n'a pas ete trouvee", "n'est plus disponible",
	"est introuvable",
	// Spanish
	"no encontrada", "pagina no encontrada", "no se ha encontrado", "no se encontro",
	"no existe", "ya no existe", "no pudo ser encontrada", "no se pudo encontrar",
	"no encontramos",
	// Italian
	"non trovata", "pagina non trovata", "non esiste", "non esiste piu", "non e stata trovata",
	"non trovato", "impossibile trovare",
	// Dutch
	"niet gevonden", "pagina niet gevonden", "bestaat niet", "bestaat niet meer",
	"kon niet worden gevonden", "niet worden gevonden", "is zoek",
)

// notFoundFillers are the words a "not found" statement may wear: function
// words, apologies, "error", "404", and nouns that name the page itself.
var notFoundFillers = set(
	// English
	"404", "error", "oops", "whoops", "sorry", "uh", "oh", "ouch", "hmm", "the", "this", "that",
	"a", "page", "pages", "file", "url", "link", "resource", "document", "content", "site",
	"you", "you're", "your", "were", "are", "is", "was", "we", "we're", "it", "it's", "looks",
	"like", "seems", "appears", "requested", "looking", "for", "here", "there", "anything",
	"at", "all", "been", "has", "have", "might", "may", "be", "or", "and", "moved", "to",
	"just", "but", "well", "oh", "no", "not", "yet", "http", "code", "status", "hey", "ah",
	"there's", "nothing", "something", "went", "wrong", "unfortunately", "apologies",
	"directory", "address", "requested", "anymore", "any", "longer", "of", "on", "our",
	// German
	"fehler", "ups", "hoppla", "oje", "leider", "die", "der", "das", "diese", "dieser", "seite",
	"angeforderte", "gesuchte", "aufgerufene", "wurde", "ist", "sind", "konnte", "kann",
	"werden", "es", "wir", "sie", "haben", "nicht", "mehr", "uns", "tut", "mir", "fehlerseite",
	"entschuldigung", "datei", "inhalt", "hier", "zu", "gesucht", "leid",
	// French
	"erreur", "oups", "desole", "desolee", "desoles", "la", "le", "les", "cette", "demandee",
	"que", "vous", "recherchez", "cherchez", "est", "a", "ete", "nous", "n'avons", "pas", "pu",
	"trouver", "ne", "fichier", "contenu", "ici", "de", "du", "lien", "malheureusement", "cet",
	"il", "semble", "oh", "non", "plus",
	// Spanish
	"ups", "vaya", "lo", "sentimos", "siento", "pagina", "que", "buscas", "busca", "buscabas",
	"estas", "buscando", "solicitada", "esta", "ha", "sido", "se", "el", "archivo", "contenido",
	"aqui", "en", "no", "pudimos", "lamentablemente", "disculpa", "disculpe", "ya", "existe",
	"del", "un", "una", "parece", "codigo",
	// Italian
	"errore", "ops", "spiacenti", "ci", "dispiace", "questa", "richiesta", "che", "cercavi",
	"stai", "cercando", "e", "stata", "il", "file", "contenuto", "qui", "di", "purtroppo",
	"siamo", "spiacente", "sembra", "pagina", "piu",
	// Dutch
	"fout", "foutmelding", "oeps", "helaas", "sorry", "de", "het", "deze", "die", "je", "u",
	"zoekt", "opgevraagde", "gezochte", "kan", "is", "wordt", "worden", "we", "wij", "kunnen",
	"niet", "meer", "hier", "bestand", "inhoud", "pagina", "lijkt", "er", "op", "dat",
)

// notFoundRefs name the page a visitor asked for; with a core in the same
// opening text they make a "not found" sentence ("The page you requested
// could not be found.").
var notFoundRefs = compile(
	// English
	"page you are looking for", "page you were looking for", "page you're looking for",
	"page you requested", "requested page", "requested url", "requested file",
	"page you were trying", "page you tried", "page you want", "this page", "that page",
	"the page", "the link you followed", "content you are looking for", "page you seek",
	// German
	"die angeforderte seite", "die gesuchte seite", "die aufgerufene seite", "die seite",
	"die von ihnen gesuchte", "die von ihnen aufgerufene", "die von dir gesuchte", "diese seite",
	// French
	"la page que vous", "la page demandee", "cette page", "la page",
	"le contenu que vous",
	// Spanish
	"la pagina que", "la pagina solicitada", "esta pagina", "la pagina",
	// Italian
	"la pagina che", "la pagina richiesta", "questa pagina", "la pagina",
	// Dutch
	"de pagina die", "de opgevraagde pagina", "de gezochte pagina", "deze pagina", "de pagina",
)

// notFoundBody are the cores a "not found" sentence in running text may
// use: notFoundCores and the ways pages say a page was removed or moved.
var notFoundBody = compile(append(joined(notFoundCores),
	"might have been removed", "may have been removed", "has been removed", "was removed",
	"been deleted", "had its name changed", "not at this address", "no longer here", "nothing was found",
	"wurde entfernt", "wurde geloscht", "verschoben oder geloscht", "a ete supprimee",
	"a ete deplacee", "ha sido eliminada", "ha sido borrada", "e stata rimossa",
	"e stata spostata", "is verwijderd", "is verplaatst", "nicht finden", "niet vinden",
	"no podemos encontrar", "no pudimos encontrar", "non riusciamo a trovare", "pas pu trouver",
)...)

// aboutErrors are the terms of a page that discusses errors rather than
// being one (an article about 404 pages, a status code reference, an SEO
// guide). Two of them cancel the text signals.
var aboutErrors = compile(
	"status code", "status codes", "http status", "error code", "error codes", "response code",
	"response codes", "http response", "http responses", "client error",
	"status line", "search engine", "search engines", "seo", "search console", "broken links",
	"htaccess", "error page", "error pages", "404 page", "404 pages", "404 error page",
	"custom 404", "404 errors", "soft 404", "soft 404s", "crawl", "crawler", "server returns",
	"response header", "nginx conf", "errordocument",
	"statuscode", "fehlerseite", "fehlerseiten", "404 seite", "suchmaschinen",
	"page d'erreur", "pages d'erreur", "code d'etat", "moteurs de recherche", "referencement",
	"pagina de error", "paginas de error", "codigo de estado", "motores de busqueda",
	"pagina di errore", "pagine di errore", "codice di stato", "motori di ricerca",
	"foutpagina", "foutpagina's", "zoekmachines",
	"broken link", "broken links", "dead links", "link rot", "link checker", "301 redirect",
	"redirect 301", "defekte links", "tote links", "toten links", "301 weiterleitung",
	"liens casses", "liens morts", "redirection 301", "enlaces rotos", "redireccion 301",
	"link rotti", "link interrotti", "kapotte links", "dode links",
)

// markerClasses are class and id tokens on <html>, <body>, <main> or <h1>
// that CMS templates put on their "not found" page (WordPress error404,
// Shopify and Wagtail template-404, Next.js next-error-h1, …).
var markerClasses = set(
	"error404", "error-404", "error_404", "page-404", "page_404", "template-404",
	"template-404-not-found", "is-404", "page-not-found", "pagenotfound", "not-found",
	"notfound", "http-404", "next-error-h1", "status-404", "page-error-404", "e404",
	"template-page-not-found", "section-404", "notfound-page", "page-notfound",
)

// fields splits each phrase into its words.
func fields(phrases ...string) [][]string {
	out := make([][]string, len(phrases))
	for i, p := range phrases {
		out[i] = strings.Fields(p)
	}
	return out
}

// joined returns each word list as one phrase.
func joined(ws [][]string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = strings.Join(w, " ")
	}
	return out
}

// set returns a set of words.
func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
