"""The database: the one place that connects, the documents, and how the domain reaches them.

One way to reach the data: the documents are declared with Beanie (``models.py``: fields,
indexes, collection names, bound at start-up by ``connection.init_db``), and the domain
reads and writes them with pymongo's own collection API on ``collection(Model)``, turning
what it finds into models with ``load``, and models into what it inserts with ``stored``.

Why pymongo's API rather than Beanie's query builder: the service's writes are atomic
single-document operators (``find_one_and_update`` with ``$push``/``$slice`` in the login
throttle, conditional ``$set`` of a block's slots, ``$inc`` of counters, unordered
``insert_many`` that skips duplicate ids) that Beanie would only pass through; its reads
often need only a projection of a document, which Beanie would still validate whole; and a
query written in MongoDB's own terms reads the same in the code, in MongoDB's documentation
and in an ``explain``.
"""
