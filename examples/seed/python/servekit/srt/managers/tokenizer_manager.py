"""The seed bug of sglang PR #25982, in miniature: the bootstrap server's reference is dropped."""

import gc

from servekit.srt.managers.disagg_service import start_disagg_service


class TokenizerManager:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.init_disaggregation()

    def init_disaggregation(self):
        # PD Disaggregation
        self.disaggregation_mode = "prefill"
        start_disagg_service(self.port)
        # Single-source counter for auto-assigning fake bootstrap_room.
        self.fake_bootstrap_room_counter = 0

    def bootstrap_alive(self) -> bool:
        gc.collect()
        server = getattr(self, "bootstrap_server", None)
        return server is not None and server.thread.is_alive()


if __name__ == "__main__":
    manager = TokenizerManager()
    print("bootstrap server alive:", manager.bootstrap_alive())
