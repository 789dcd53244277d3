"""The rVAE: model, training, encoding, manifold."""
