"""Our own English word lists, used when the `wonderwords` package (RULER's source) is absent.

Plain common words, written for this project. Only their order-independent content matters:
`evals.benchmarks.ruler.words` sorts and deduplicates them, so samples are reproducible from the seed.
"""

ADJECTIVES = """
able absent abundant acid active actual adorable adventurous afraid aggressive agile alert alive
amber ample ancient angry anxious apparent arctic aromatic ashamed attractive average awake aware
awful bad balmy bare basic beautiful best better big bitter black bland blank blind blond blue blunt
bold boring bossy bouncy brave brief bright brilliant brisk broad broken bronze brown bumpy busy
calm capable careful careless casual cautious certain charming cheap cheerful chilly chubby civil
classic clean clear clever close cloudy clumsy coarse cold colorful common complete complex cool
correct cozy crazy creamy creative crisp crooked crowded cruel crunchy cuddly curious curly curved
cute damp dark dear decent deep delicate dense dependable different difficult dirty distant dizzy
dry dull dusty eager early earnest easy elastic elegant empty endless energetic enormous equal
even exact excellent excited exotic expert faint fair faithful false famous fancy fast fat fearless
feeble fierce filthy fine firm flat flawless fluffy fond foolish formal fragile frank free fresh
friendly frozen full funny furry fuzzy gentle genuine giant gifted glad gleaming glossy golden good
graceful grand grateful gray great greedy green grim grumpy guilty hairy handsome happy hard harsh
healthy heavy helpful hidden high hollow honest hot huge humble hungry icy ideal idle immense
innocent intense jolly juicy keen kind large late lazy lean light likely little lively lonely long
loose loud lovely loyal lucky lumpy magic major mellow merry mighty mild minor misty modern modest
moist narrow nasty native neat nervous new nice nimble noble noisy normal novel obedient odd old
open orange ordinary pale perfect pink plain pleasant plump polite poor popular precious pretty
proud pure purple quick quiet rapid rare raw ready real red regular rich rigid ripe rough round
royal rude rural rusty sad safe salty scarce secret sharp shiny short shy silent silky silly silver
simple sleepy slim slow small smart smooth soft solid sour spare spicy splendid square stable steady
steep sticky stiff still strange strict strong sturdy subtle sudden sunny super sweet swift tall
tame tender thick thin thirsty tidy tiny tired tough tricky true ugly unique upset urban useful
vague valid vast violet vivid warm weak wealthy weary wet white whole wide wild windy wise witty
wooden yellow young zealous
"""

NOUNS = """
acorn actor airport alarm album alley anchor angle animal ankle answer apple apron arch arm army
arrow artist atlas attic aunt author avenue baby bacon badge bag bakery balcony ball balloon banana
band bank barn barrel basket bath beach beacon bean bear beard bed bee beetle bell belt bench berry
bicycle bird blanket blossom boat body bone book boot bottle boulder bowl box bracelet brain branch
bread brick bridge brook broom brother bubble bucket buffalo building bull bunny bus bush butter
button cabin cable cactus cake calendar camel camera camp canal candle canoe canvas canyon cap
captain car card carpet carrot castle cat cave ceiling cellar chain chair chalk channel cheese
cherry chess chest chicken chimney church circle city clock cloud clover coast coat coconut coffee
coin comet compass cookie copper coral corn cottage cotton country cousin cow crab crane crayon
creek crow crown crystal cup curtain cushion daisy dancer deer desert desk diamond dinner doctor
dog doll dolphin donkey door dragon drawer dream dress drum duck eagle ear earth eel egg elbow
elephant elk engine envelope eye fabric face falcon farm farmer feather fence fern field finger
fire fish flag flame flower flute fog forest fork fountain fox frog fruit garden garlic gate gem
giraffe glacier glass glove goat gold goose grape grass guitar hammer hand harbor hat hawk heart
hedge helmet hen hill hive honey hook horn horse hospital hotel house island ivory jacket jar jeans
jelly jewel journal judge jungle kangaroo kettle key kingdom kitchen kite kitten knee knife ladder
lake lamp lantern leaf lemon leopard letter library lighthouse lily lion lizard lobster lock
magnet map maple marble market meadow melon mermaid meteor mirror monkey moon moose mountain mouse
mud mushroom needle nest net night notebook nut oak oasis ocean office olive onion orchard orchid
otter owl oyster paddle painter palace panda paper parrot path peach peanut pear pearl pebble
pencil penguin pepper piano pig pillow pine pirate planet plate plum pocket poem pond pony poppy
potato pumpkin puppy puzzle quilt rabbit raccoon radio rain rainbow raven ribbon rice ring river
road robin robot rock rocket roof rope rose ruby saddle sail salmon sand sandwich scarf school
seal seed shadow shark sheep shell ship shirt shoe shore shovel silk singer sink skate sky sled
snail snake snow soap sock sofa soup sparrow spider spoon spring squirrel stable stage star statue
stone storm stove stream street sugar summer sun swan sweater table tail teacher teapot temple tent
thread thunder tiger timber toast tomato tooth torch tower town toy tractor trail train tree truck
trumpet tulip tunnel turkey turtle umbrella valley vase velvet village violin volcano wagon wall
walnut wand water wave whale wheat wheel whistle willow window wing winter wire wolf wood worm
yacht yard yarn zebra
"""

VERBS = """
accept add admire agree allow answer appear argue arrive ask bake balance bathe begin believe
belong blink boil borrow bounce breathe bring build burn buy calculate call carry catch change
chase cheer chew choose clap clean climb close collect comb compare complain cook copy count cover
crawl cross cry dance decide deliver describe design dig discover dive divide draw dream drink
drive drop earn eat enjoy enter escape explain explore fetch fill find fix float fly fold follow
forgive gather give glow grab grow guard guess hang happen hear help hide hike hold hop hug hunt
hurry imagine invent invite join juggle jump kick kneel knit knock laugh lead learn lend lift
listen live look love make march measure melt mend mix move nod notice obey offer open order paint
pass pick plan plant play point polish pour pray print pull push question race rain reach read
relax remember repair rescue return ride ring roll run sail save scatter search see sell send
sew shake share shine shout sing sink sit skip sleep slide smile sneeze sort speak spell spin
splash stand start stay steer stir stop stretch study swim swing talk teach tell thank think throw
tickle travel trust try turn type understand unlock visit wait walk wander wash watch wave weave
whisper win wink wish wonder work worry write yawn yell zoom
"""
