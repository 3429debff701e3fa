"""The paper's SFT vs SFT+GSPO ablation on the synthetic world (`make reproduce`, pipelines/reproduce.py).

- `o3v.ablation.variants`: the six rows (base, SFT only, four SFT+GSPO variants) and their GSPO overrides.
- `o3v.ablation.aggregate`: per-seed metrics -> means with t-intervals and paired GSPO-minus-SFT differences.
- `o3v.ablation.page`: the Markdown table, the plot and the self-contained HTML page.
"""
