"""Ordinary Italian words that the place finder must not read as a misspelt town or area.

Two lists:

- FUNCTION_WORDS: short and frequent words of a chat (articles, prepositions, greetings, the
  words of the questions people ask), and name parts too generic alone ("san", "villa", "busto").
- NEAR_NAMES: words of an Italian dictionary (Debian's ``witalian``) that difflib rates at 0.78 or
  more against a town or area name of the knowledge base ("inverno" ~ Inveruno, "certo" ~ Cerro,
  "legano" ~ Legnano). Regenerate it when towns are added; the knowledge base's own vocabulary is
  added at run time in any case (see ``knowledge.places``).

AMBIGUOUS_NAMES are place names or aliases that are also ordinary words ("abbiate" is a form of
"avere", "zelo" means zeal): inside a message they count as a place only when written with a capital
letter, after "a", "di", "da", "in" or "zona", or alone.
"""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words(
    """
    a ad agli ai al alla alle allo alta alto altro anche anni anno aperta aperto area bambina bambini
    bambino bassa basso bene buonanotte buonasera buongiorno busto campi campo centri centro cerro che
    chi chiusa chiuso ci ciao come comune con cosa costa costi costo da dal dalla dei del della delle di
    domani domenica dove e ed estate estiva estive estivi estivo fa figli figlia figlio gli grazie ha ho
    ieri il in invernale invernali inverno io iscrizione iscrizioni la lavoro le lo ma mattina mese mesi
    mia mille mio ne nel nella nidi nido no non oggi orari orario per piu po poi pomeriggio prezzi
    prezzo quale quando quanto qui ragazza ragazzi ragazzo s sabato salve san sant santa santo scuola
    scuole se sera si sono su sul tra tu un una uno via villa zona
    """
)

NEAR_NAMES = _words(
    """
    abate abbagliate abbaiante abbaiare abbaiaste abbaiata abbaiate abbaiati abbaiato abbaiavate
    abbassiate abbatte abbattei abbattente abbattesse abbatteste abbattiate abbelliate abbia abbiano
    abbiate abbiente abbiette abbigliate abbinante abbinare abbinaste abbinata abbinate abbinati
    abbinato abbinavate abbiniate abbonate abbondiate abboniate abbozzero abbozziate abbreviate
    abbruniate abdicate abitante abitate abituate abiurate aboliate abusante abusaste abusate abusiate
    accasano addobbiate adriano affibbiate agenti aggiogano aggirando aggirano agitano agivano alcuno
    alienano allegano allenano alunno amareggio amoreggio annebbiate annegate arcate arenate arezzo
    argentina arno arrabbiate assediano baggiano balenano balenate barate basate bastando bastano beate
    becco bendante bendaste bendate bendiate berro bestie botta brindate bruciate buscarti buscato
    bussante bussaste bussate bussiate cagiono calpestano cambiate camerate cantando cantano capitano
    carezzo carro cartaginese carteggio cascano casetta cassano cassetta casta castagna castagne
    castagneto castagni castagno castellano casto causando causano cedro cerco cero certo cervo
    cisalpino clero cognate coniate contate corazzero corretta corro costando costano costanzo costretta
    cotta cozzeremo cozzero cristiano crostate croste cugino curiosate degnando degnano delegano
    dirozzero dosate dotta drago elencano erro esatte esecro estero evitano fabbricate fagiano ferro
    fuggirono fuggono gareggi gareggiando gareggiano gareggiarono gareggiavano gareggino gareggio gaudio
    giorgio gotta greggio guado guardo guastano guido indossate inebriano inferno ingaggiando ingaggiano
    ingaggiarono ingaggiavano ingaggino interno invento inverni invero inverso inviano inviero isolano
    isolino lambiate legando legano legarono legavano leggano legna legno levigano liberate lotta
    macello magna magno marcano marcate marcato marcavo marcello matta menassero menero menino menta
    mero mescolero mesteremo mestero metta milanese misero molta monta moribondo morirono mormorando
    morta mota motti motto mozzeremo mozzero muggirono nate negate nevicando nevicano nostre notate note
    oberante oberaste oberate oberiate olezzero ombreggio oretta osante osaste osate osiate ossa osso
    oste oziero pareggi pareggino pareggio pesate pesero posate prostrate raggirano rasate rate regnando
    regnano relegano resero rilegano riposante riposaste riposate riposiate risate riscaldino ronzate
    rosa rose rosolante rosolaste rosolate rosoliate rotta rovistate saggiando saggiano saggino sbendate
    sbranate scartano scassano scattano scorretta scostano scozzero scrostate sdegnano sedando sedano
    sederanno sediamo sedino segnando segnano serbano serbino serenate serrano serrino serro servano
    servivano sgorgo sgozzero siciliano siedano slegando slegano slentano smerciano soriano spareggio
    spedivano sperano sperino stano stefano svernate taluno tastando tastano tediano temessero terro
    tesero tosate turbi turbiamo turbinio turbino turbo uggiolano uggiolino uggiolo uggioso usate verro
    veruno viaggiano vittorie zelo zero
    """
)

AMBIGUOUS_NAMES = frozenset({"abbiate", "zelo", "cerro", "motta", "busto", "villa"})
