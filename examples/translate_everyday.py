"""A person's own Chinese, translated: the six sentences the tutorial's readers tried first, and twenty
everyday sentences written for this table (none of them is in any corpus the translator reads), beside
the word-by-word CC-CEDICT baseline. Prints a Markdown table with each translation's mean token
log-probability (`score`: near 0 the model was sure; below about -1 it was guessing).

    python examples/translate_everyday.py                       # the cached default translator
    python examples/translate_everyday.py --model runs/tr/model
"""
import argparse

from minidistil.apps.translation import TranslationPipeline
from minidistil.data import cedict

FIRST_SIX = ["我喜欢学习机器学习。", "今天天气很好，我们去公园散步吧。", "这个程序无法打开，因为磁盘已满。",
             "我的电脑坏了，需要重新安装系统。", "北京是中国的首都。", "删除所选的行。"]
EVERYDAY = ["我每天早上七点起床。", "你今天晚上想吃什么？", "我的妈妈是一名医生。", "这本书很有意思。",
            "他昨天没有去上班。", "请把窗户关上。", "我们明天一起去看电影吧。", "这件衣服太贵了。",
            "我不知道他的电话号码。", "火车站离这里远吗？", "我已经学了三年中文。", "外面在下雨，带上雨伞。",
            "她喜欢喝茶，不喜欢喝咖啡。", "周末我常常和朋友打篮球。", "这个问题很难回答。", "我忘了带钥匙。",
            "他的哥哥住在上海。", "谢谢你的帮助。", "我的手机没电了。", "你会说英语吗？"]

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model", help="a translator folder (default: the cached default translator)")
args = parser.parse_args()
if args.model is None:
    from minidistil.recipes import pretrained
    args.model = pretrained.translator_dir()

texts = FIRST_SIX + EVERYDAY
ours = TranslationPipeline(args.model)(texts, return_scores=True)
dictionary = cedict.WordByWord(cedict.load()).translate(texts)
print("| 中文 | minidistil | score | CC-CEDICT word by word |")
print("|---|---|---:|---|")
for text, out, word in zip(texts, ours, dictionary):
    print(f"| {text} | {out['translation_text']} | {out['score']:.2f} | {word} |")
