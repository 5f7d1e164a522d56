"""The one way the benchmarks time the SQL a request runs."""

import time


class SqlTimer:
    """An execute wrapper (connection.execute_wrapper) adding up every statement's time and counting them."""

    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1
