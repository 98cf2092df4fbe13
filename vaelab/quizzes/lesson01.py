"""Quiz for lesson 01: the autoencoder."""

QUESTIONS = [
    {
        "id": "01.codes_are_points",
        "text": (
            "For one input image, what does the encoder of a plain autoencoder "
            "(vaelab.models.MLPAutoencoder) return?"
        ),
        "options": [
            "A probability for each of the 784 pixels",
            "The digit's class label",
            "A single point z: latent_dim numbers",
            "A mean and a log-variance describing a Gaussian over codes",
        ],
        "correct": 2,
        "explanations": [
            "That is the decoder's job: it turns a code into x_logits, whose sigmoid is a "
            "probability per pixel. The encoder goes the other way, from pixels to a code.",
            "The autoencoder never sees labels; it is trained only to reconstruct. Codes of "
            "the same digit often end up close together, but only the coloured scatter, drawn "
            "afterwards with the labels, shows that.",
            "Right: an autoencoder maps each image to one code, deterministically. Encoding "
            "the same image twice gives the same z, and nothing says how far around z the "
            "decoder still works.",
            "That is the VAE's encoder (lesson 02). The plain autoencoder has a single to_z "
            "layer and no notion of uncertainty.",
        ],
    },
    {
        "id": "01.latent_holes",
        "text": (
            "You train an autoencoder with a 2-D latent, pick a random point inside the rectangle "
            "that contains all the training codes, and decode it. The result often looks like no "
            "digit at all. Why?"
        ),
        "options": [
            "The decoder only works for codes that come from the current batch",
            "Two latent dimensions cannot represent digits",
            "The point must be normalised to unit length before decoding",
            "The decoder was only trained at the codes of training images; the gaps between "
            "them were never asked to decode to anything sensible",
        ],
        "correct": 3,
        "explanations": [
            "Once trained, the decoder is a fixed function of z that knows nothing about "
            "batches. It accepts any code; it just was never trained on codes like this one.",
            "Reconstructions from 2-D codes are blurry but recognisable, so two dimensions "
            "can hold digits. The trouble is the space between the codes, and with more "
            "dimensions there is even more empty space.",
            "An autoencoder's codes have no prescribed scale: normalising only moves the "
            "point to another place the decoder may never have seen.",
            "Right: the reconstruction loss only scores the decoder at the encoded training "
            "images. The codes form clusters with holes between them, and what the decoder "
            "makes of a hole is left to chance. The VAE trains the decoder on whole "
            "neighbourhoods and pulls the codes towards a known prior, which fills the holes.",
        ],
    },
    {
        "id": "01.recon_loss",
        "text": (
            "The decoder returns x_logits (no sigmoid) and x holds pixel values in [0, 1]. Which "
            "line computes the reconstruction loss that vaelab.losses.bernoulli_nll computes?"
        ),
        "options": [
            "F.mse_loss(x_logits, x)",
            "F.binary_cross_entropy_with_logits(torch.sigmoid(x_logits), x)",
            "F.binary_cross_entropy(x_logits, x)",
            "F.binary_cross_entropy_with_logits(x_logits, x, "
            "reduction='none').flatten(1).sum(1).mean()",
        ],
        "correct": 3,
        "explanations": [
            "This compares logits with pixel values, which live on different scales (a logit "
            "of 5 is a probability of 0.99). A squared error is a Gaussian likelihood on "
            "sigmoid(x_logits) ('gaussian' in vaelab), and the default mean over pixels also "
            "shrinks the term 784 times.",
            "This applies the sigmoid twice: the loss treats sigmoid(x_logits), a number in "
            "(0, 1), as a logit, so the predicted probabilities stay between 0.5 and about "
            "0.73 and a black pixel can never be predicted.",
            "binary_cross_entropy expects probabilities in [0, 1]. Logits can be any real "
            "number, so PyTorch raises an error; applying torch.sigmoid first would work but "
            "is less stable than the with-logits version.",
            "Right: BCE with logits applies the sigmoid inside, in a numerically stable way; "
            "summing over the pixels gives one negative log-likelihood per image, in nats, "
            "which is then averaged over the batch.",
        ],
    },
]
