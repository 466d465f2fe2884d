"""The pure core: keys, answers, the pool and its policies, health, plans, regions.

Nothing here touches the network, a file, the terminal or the clock of its own: time comes in as
`now` or through a `Clock`.
"""
