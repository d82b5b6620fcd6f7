"""``spct serve``: a trained GRM behind HTTP (FastAPI + uvicorn), as a judge (``POST /score``) and as the reward
model of other people's RL (``POST /get_reward``, OpenRLHF's remote reward protocol).

``reward`` holds the query ids and the parsing of OpenRLHF queries (the scalar reward is ``spct.reward``'s);
``schemas`` the request and response bodies; ``batcher`` the bounded queue and the one worker that scores every
waiting request in one engine call; ``app`` the FastAPI application.
"""
