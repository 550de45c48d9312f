/**
 * Built-in training text for the generated models' byte-level BPE tokenizer.
 *
 * Original prose written for this project: varied everyday English (questions, numbers, code-like
 * snippets, punctuation) so frequent English words become single tokens, plus a few accented, Greek,
 * Cyrillic and CJK words so that some multi-byte characters get merges of their own. Changing this text
 * changes every generated tokenizer, so the model cache's format version must be bumped with it.
 */
export const BPE_TRAINING_CORPUS = `
The quick brown fox jumps over the lazy dog. A small model can still tell a story, if the story is short.
Once upon a time, in a quiet town by the river, there lived a baker who woke up every morning at four.
She mixed flour, water, salt and yeast, and while the dough was rising she read the newspaper by the window.
The children of the town came to the bakery after school. They wanted bread, cakes and, most of all, stories.
"Tell us about the mountain," they said. "Tell us about the time you were lost in the snow!"
The baker laughed. "I was never lost," she answered. "I simply did not know where I was for three days."

What is the capital of France? The capital of France is Paris. What is the capital of Japan? It is Tokyo.
How many days are there in a week? There are seven days in a week, and twelve months in a year.
Can you explain how a computer works? A computer reads instructions from memory, one after another,
and each instruction changes a little bit of its state: a number here, a pointer there.
Why is the sky blue? Sunlight is scattered by the air, and blue light is scattered more than red light.
Please write a short poem about the sea. The sea is wide, the sea is deep; it sings the sailors off to sleep.

Numbers appear everywhere: 1, 2, 3, 10, 42, 100, 256, 1024, 2048, 65536, 3.14159, 2.71828 and 1e-6.
The meeting starts at 09:30 on 2024-05-17 and ends at 11:45. The ticket costs $12.50 or about 11 euros.
In 1969, people walked on the Moon for the first time. Today, more than 8 billion people live on Earth.

The server receives a request, tokenizes the prompt, runs the model and streams the answer back.
Prefill reads the whole prompt at once; decode produces one token at a time until it reaches a stop.
function add(a, b) { return a + b; }  // adds two numbers
const items = [1, 2, 3].map((x) => x * 2);
if (count > 0 && ready) { console.log("done"); } else { throw new Error("not ready"); }
for i in range(10): print(i)
SELECT name, age FROM users WHERE age >= 18 ORDER BY name;
<html><body><p>Hello, world!</p></body></html>
{"name": "pd-node", "version": "0.1.0", "tokens": [1, 2, 3]}

I think, therefore I am. You know what I mean? We'll see. They're here. It's fine. She's ready. He'd go.
Don't worry, be happy. Isn't it strange? I've been there, and I'll be back. Let's go!
Good morning! Good evening. Thank you very much. You're welcome. See you tomorrow.
The weather today is sunny with a light breeze; tomorrow there will be rain in the afternoon.
History, science, music, art, sport, cooking, travel, language, mathematics, physics and chemistry.
An apple a day keeps the doctor away, but an orange works just as well according to my grandmother.
The library opens at nine and closes at six. Students read, write, think and sometimes fall asleep.
Water boils at 100 degrees Celsius at sea level and freezes at 0 degrees. Ice floats because it is lighter.
People who travel learn that every city has its own rhythm: markets in the morning, cafés at noon,
music at night. In Zürich the trains are on time; in São Paulo the traffic never sleeps.

Some words from other places: café, naïve, résumé, façade, jalapeño, crème brûlée, déjà vu, über,
smörgåsbord, fjörd, Ångström, piñata, coöperate, Ελλάδα, καλημέρα, Москва, привет, спасибо,
東京, 日本語, 中文, 你好, 世界, こんにちは, ありがとう, 서울, 안녕하세요, and symbols like € £ ¥ ° ± × ÷ → ✓.

Questions and answers:
Q: What do plants need to grow? A: Light, water, air and nutrients from the soil.
Q: Who wrote the letter? A: The letter was written by a friend who lives far away.
Q: Where does the river go? A: It flows down the valley, past the old mill, and into the sea.
Q: When will the train arrive? A: The train will arrive in ten minutes, at platform two.

A good answer is clear, short and correct. A better answer also says why.
The end of one story is the beginning of another. Thank you for reading, and have a wonderful day.
`;
