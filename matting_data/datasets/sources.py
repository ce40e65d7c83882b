"""The public datasets the adapters read: their papers (BibTeX) and where their terms of use are stated.

Used by the HuggingFace dataset card (:mod:`.hf_export`) to cite every source
dataset of an export and point at its licence or release agreement.  The
terms are summarised, not reproduced: the linked page is authoritative, and an
export's own ``--license`` never overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceDataset:
    """A public dataset: display name, terms of use (summary + where they are stated) and BibTeX."""

    name: str
    terms: str
    bibtex: str


GFM_BIBTEX = """@article{li2022bridging,
  title   = {Bridging Composite and Real: Towards End-to-end Deep Image Matting},
  author  = {Li, Jizhizi and Zhang, Jing and Maybank, Stephen J. and Tao, Dacheng},
  journal = {International Journal of Computer Vision},
  volume  = {130},
  number  = {2},
  pages   = {246--266},
  year    = {2022},
  doi     = {10.1007/s11263-021-01541-0}
}"""

SOURCES: dict[str, SourceDataset] = {
    "am-2k": SourceDataset(
        "AM-2k", "non-commercial research use under the AM-2k release agreement (https://github.com/JizhiziLi/GFM)",
        GFM_BIBTEX),
    "bg-20k": SourceDataset(
        "BG-20k", "non-commercial research use under the BG-20k release agreement "
        "(https://github.com/JizhiziLi/GFM)", GFM_BIBTEX),
    "p3m-10k": SourceDataset(
        "P3M-10k", "the P3M-10k Dataset Release Agreement (https://github.com/JizhiziLi/P3M)",
        """@inproceedings{li2021privacy,
  title     = {Privacy-Preserving Portrait Matting},
  author    = {Li, Jizhizi and Ma, Sihan and Zhang, Jing and Tao, Dacheng},
  booktitle = {Proceedings of the 29th ACM International Conference on Multimedia},
  year      = {2021},
  doi       = {10.1145/3474085.3475512}
}"""),
    "aim-500": SourceDataset(
        "AIM-500", "the AIM-500 release agreement (https://github.com/JizhiziLi/AIM)",
        """@inproceedings{li2021deep,
  title     = {Deep Automatic Natural Image Matting},
  author    = {Li, Jizhizi and Zhang, Jing and Tao, Dacheng},
  booktitle = {Proceedings of the Thirtieth International Joint Conference on Artificial Intelligence (IJCAI-21)},
  year      = {2021}
}"""),
    "composition-1k": SourceDataset(
        "Composition-1k (Adobe Deep Image Matting)", "Adobe's Deep Image Matting dataset licence: obtained on "
        "request from the authors, research use, no redistribution of the original files",
        """@inproceedings{xu2017deep,
  title     = {Deep Image Matting},
  author    = {Xu, Ning and Price, Brian and Cohen, Scott and Huang, Thomas},
  booktitle = {IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2017}
}"""),
    "distinctions-646": SourceDataset(
        "Distinctions-646", "the authors' terms (obtained on request; "
        "https://github.com/yuhaoliu7456/CVPR2020-HAttMatting)",
        """@inproceedings{qiao2020attention,
  title     = {Attention-Guided Hierarchical Structure Aggregation for Image Matting},
  author    = {Qiao, Yu and Liu, Yuhao and Yang, Xin and Zhou, Dongsheng and Xu, Mingliang and Zhang, Qiang
               and Wei, Xiaopeng},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2020}
}"""),
    "ppm-100": SourceDataset(
        "PPM-100", "the PPM-100 licence (https://github.com/ZHKKKe/PPM)",
        """@inproceedings{ke2022modnet,
  title     = {MODNet: Real-Time Trimap-Free Portrait Matting via Objective Decomposition},
  author    = {Ke, Zhanghan and Sun, Jiayu and Li, Kaican and Yan, Qiong and Lau, Rynson W. H.},
  booktitle = {AAAI Conference on Artificial Intelligence},
  year      = {2022}
}"""),
    "alphamatting.com": SourceDataset(
        "alphamatting.com training set", "research use under the benchmark's terms (http://www.alphamatting.com)",
        """@inproceedings{rhemann2009perceptually,
  title     = {A Perceptually Motivated Online Benchmark for Image Matting},
  author    = {Rhemann, Christoph and Rother, Carsten and Wang, Jue and Gelautz, Margrit and Kohli, Pushmeet
               and Rott, Pamela},
  booktitle = {IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2009}
}"""),
}


def known_source(source: str) -> SourceDataset | None:
    """The public dataset a manifest's ``source`` value names (case-insensitive), or ``None``."""
    return SOURCES.get(source.strip().lower())
